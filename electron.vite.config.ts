import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';

// electron-vite looks for src/main, src/preload and src/renderer by default; ours live at the top.
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      // The spawner (ADR 22) is a process of its own: its own file beside the main bundle.
      rollupOptions: {
        input: { index: resolve(import.meta.dirname, 'src-main/main.ts'), spawner: resolve(import.meta.dirname, 'src-main/adapters/process/spawner/main.ts') },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      // Sandboxed preloads cannot load packages: bundle the bridge, and emit CommonJS.
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve(import.meta.dirname, 'src-preload/index.ts') },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(import.meta.dirname, 'src-renderer'),
    plugins: [react()],
    build: {
      outDir: resolve(import.meta.dirname, 'out/renderer'),
      // electron-vite leaves the renderer unminified; the headless server sends it to browsers.
      minify: true,
      rollupOptions: { input: { index: resolve(import.meta.dirname, 'src-renderer/index.html') } },
    },
  },
});
