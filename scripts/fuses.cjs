// electron-builder afterPack hook: flips Electron's fuses in the packaged binary, so the app
// cannot be turned into a plain Node.js runtime or debugged from outside, and only loads its code
// from the signed-in asar archive.
const { join } = require('node:path');

/** The fuses the packaged app runs with (checked by test/electron/packaging.test.ts). */
const FUSES = {
  RunAsNode: false,
  EnableNodeOptionsEnvironmentVariable: false,
  EnableNodeCliInspectArguments: false,
  EnableEmbeddedAsarIntegrityValidation: true,
  OnlyLoadAppFromAsar: true,
  EnableCookieEncryption: true,
};

async function afterPack(context) {
  const { flipFuses, FuseVersion, FuseV1Options } = require('@electron/fuses');
  const name = context.packager.appInfo.productFilename;
  const exe = {
    darwin: join(context.appOutDir, `${name}.app`),
    win32: join(context.appOutDir, `${name}.exe`),
    linux: join(context.appOutDir, context.packager.executableName),
  }[context.electronPlatformName];
  await flipFuses(exe, {
    version: FuseVersion.V1,
    resetAdHocDarwinSignature: context.electronPlatformName === 'darwin',
    ...Object.fromEntries(Object.entries(FUSES).map(([k, v]) => [FuseV1Options[k], v])),
  });
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.FUSES = FUSES;
