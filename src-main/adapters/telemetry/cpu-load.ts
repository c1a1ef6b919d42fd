import { cpus } from 'node:os';

interface Times {
  busy: number;
  total: number;
}

function read(): Times {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

/**
 * Whole-machine CPU load (%) since the last call, from the kernel's per-CPU counters (os.cpus():
 * no process spawned, nothing that blocks). systeminformation's currentLoad runs `cat /proc/stat`
 * through a synchronous shell on Linux every call, which is what the sampler must not do.
 */
export class CpuLoad {
  private last = read();

  sample(): number | null {
    const now = read();
    const total = now.total - this.last.total;
    const busy = now.busy - this.last.busy;
    this.last = now;
    return total > 0 ? Math.round((busy / total) * 1000) / 10 : null;
  }
}
