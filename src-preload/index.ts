/**
 * The preload exposes the tRPC IPC bridge and nothing else. It is bundled (a sandboxed preload
 * cannot require packages).
 */
import { exposeElectronTRPC } from 'trpc-electron/main';

process.once('loaded', () => {
  exposeElectronTRPC();
});
