import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string>; build: Record<string, unknown> };

/** Packaging cannot run here (electron-builder downloads Electron); its configuration is checked. */
describe('packaging configuration', () => {
  it('builds AppImage and deb for Linux, NSIS for Windows, with asar', () => {
    expect(pkg.build).toMatchObject({
      asar: true,
      linux: { target: ['AppImage', 'deb'] },
      win: { target: ['nsis'] },
      afterPack: './scripts/fuses.cjs',
      extraMetadata: { main: 'out/main/index.js' },
    });
    expect(pkg.build.files).toEqual(expect.arrayContaining(['out/**', 'dist/**', 'drizzle/**', 'resources/**']));
    expect(pkg.build.asarUnpack).toEqual(expect.arrayContaining(['node_modules/better-sqlite3/**']));
  });

  it("rebuilds better-sqlite3 for Electron's ABI as part of packaging", () => {
    for (const s of ['package', 'package:linux', 'package:win']) expect(pkg.scripts[s]).toMatch(/electron-builder install-app-deps && electron-builder/);
  });

  it('sets the fuses: no RunAsNode, no NODE_OPTIONS, no inspect, load only from the (validated) asar', () => {
    const { FUSES } = require(join(root, 'scripts', 'fuses.cjs')) as { FUSES: Record<string, boolean> };
    expect(FUSES).toMatchObject({
      RunAsNode: false,
      EnableNodeOptionsEnvironmentVariable: false,
      EnableNodeCliInspectArguments: false,
      OnlyLoadAppFromAsar: true,
      EnableEmbeddedAsarIntegrityValidation: true,
    });
    // Every fuse named is one @electron/fuses knows (a typo would silently set nothing).
    const { FuseV1Options } = require('@electron/fuses') as { FuseV1Options: Record<string, number> };
    for (const k of Object.keys(FUSES)) expect(FuseV1Options[k]).toBeTypeOf('number');
  });
});
