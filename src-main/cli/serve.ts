import { spawn } from 'node:child_process';
import { ConfigError, resolveServeOptions } from '../config.js';
import { parse } from './args.js';
import { CliError, findEndpoint } from './client.js';
import { print, printJson } from './command.js';

/** `agentmgr serve`: the Manager itself, loaded only for this command. */
export async function serve(argv: string[]): Promise<number> {
  const { values } = parse('serve', argv, {
    port: { type: 'string' },
    'agents-dir': { type: 'string', multiple: true },
    'max-concurrency': { type: 'string' },
    quiet: { type: 'boolean' },
  });
  if (values.help) return (await import('./help.js')).help('serve');
  let options;
  try {
    options = resolveServeOptions(values);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, 2);
    throw e;
  }
  const { startHeadless } = await import('../headless.js');
  const { DataDirLockedError } = await import('../data-dir.js');
  let m;
  try {
    m = await startHeadless(options, values.quiet ? 'warn' : 'info');
  } catch (e) {
    if (e instanceof DataDirLockedError) throw new CliError(e.message, 1);
    throw new CliError((e as Error).message, 1);
  }
  const info = { url: m.server.url, dataDir: options.dataDir, ui: m.uiUrl, pid: process.pid };
  if (values.json) printJson(info);
  else {
    print(`Agent Manager is listening on ${m.server.url} (127.0.0.1 only)`);
    print(`  data dir:  ${options.dataDir}`);
    print(`  UI:        ${m.uiUrl}`);
    print(
      `  agents:    ${
        m.services.agents
          .list()
          .map((a) => a.name)
          .join(', ') || 'none'
      }`,
    );
    for (const p of m.services.agents.problems()) print(`  not loaded: ${p.path}: ${p.message}`);
    const gpu = m.services.telemetry.current();
    print(
      `  machine:   ${gpu.cpuCores} cores, ${gpu.memoryTotalMB} MB RAM, ${gpu.gpus.length ? gpu.gpus.map((g) => `GPU ${g.index} ${g.name} ${g.totalMB} MB`).join(', ') : `no GPU (${gpu.gpuStatus.message})`}`,
    );
    print('Press Ctrl-C to stop; running agents keep running and are re-adopted on the next start.');
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (!values.json) print('\nstopping…');
      void m.stop().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}

/** `agentmgr ui`: the UI's URL with the token (the way Jupyter hands it over), opened in a browser. */
export async function ui(argv: string[]): Promise<number> {
  const { values } = parse('ui', argv, { 'no-open': { type: 'boolean' } });
  if (values.help) return (await import('./help.js')).help('ui');
  const ep = findEndpoint(values['data-dir'] as string | undefined);
  const url = `${ep.url}/#token=${ep.token}`;
  if (values.json) return (printJson({ url }), 0);
  print(url);
  if (!values['no-open']) {
    const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => process.stderr.write(`(could not run ${opener}; open the URL above in a browser)\n`));
    child.unref();
  }
  return 0;
}
