import { rmSync } from 'node:fs';
import { createAppServices, type AppServices } from './app.js';
import type { ServeOptions } from './config.js';
import { loadOrCreateToken, writeServerFile } from './data-dir.js';
import { rendererDir } from './paths.js';
import { startServer, type RunningServer } from './server/http-server.js';
import { consoleLogger, type LogLevel } from './adapters/console-logger.js';

export interface HeadlessManager {
  services: AppServices;
  server: RunningServer;
  token: string;
  uiUrl: string;
  stop(opts?: { stopAgents?: boolean }): Promise<void>;
}

/**
 * The plain-Node composition root: the Manager plus its API on 127.0.0.1. Never imports
 * electron, directly or not.
 */
export async function startHeadless(options: ServeOptions, logLevel: LogLevel = 'info'): Promise<HeadlessManager> {
  const services = await createAppServices(options, consoleLogger(logLevel));
  let server: RunningServer;
  const token = loadOrCreateToken(services.dirs);
  try {
    server = await startServer({ services, port: options.port, token, rendererDir: rendererDir(), maxUploadBytes: options.uploadMaxMB * 1024 * 1024 });
  } catch (e) {
    services.close();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE')
      throw new Error(`port ${options.port} on 127.0.0.1 is in use (another Manager?); choose another with --port or AGENTMGR_PORT`);
    throw e;
  }
  writeServerFile(services.dirs, server);
  let stopped = false;
  return {
    services,
    server,
    token,
    uiUrl: `${server.url}/#token=${token}`,
    async stop(opts) {
      if (stopped) return;
      stopped = true;
      await server.close();
      rmSync(services.dirs.server, { force: true });
      services.close(opts);
    },
  };
}
