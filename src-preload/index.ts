/**
 * The preload exposes the tRPC IPC bridge and, for drag-and-drop, the path of a dropped file
 * (Electron no longer puts it on File objects). Nothing else. It is bundled (a sandboxed preload
 * cannot require packages).
 */
import { contextBridge, webUtils } from 'electron';
import { exposeElectronTRPC } from 'trpc-electron/main';

process.once('loaded', () => {
  exposeElectronTRPC();
  contextBridge.exposeInMainWorld('agentmgrFiles', {
    pathFor: (file: File): string => webUtils.getPathForFile(file),
  });
});
