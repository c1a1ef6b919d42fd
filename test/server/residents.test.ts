import { describe, expect, it } from 'vitest';
import { residentHarness, until } from '../helpers/residents.js';

/**
 * The first rung of the ladder, through the whole Manager: a fake Ollama or ComfyUI (their
 * documented HTTP APIs) whose own pid holds its models' VRAM in the fake nvidia-smi, falling a
 * while after an unload; an 8 GB card with 400 MB of desktop.
 */
const { setup, cleanups } = residentHarness();

const gpuTask = { agent: 'ok', resources: { gpu: { count: 1, vramMB: 4000 } } };

describe('residents: the AI servers beside us, freed on demand', () => {
  it('a task needing 4 GB while Ollama holds 5.6 GB idle gets it: Ollama is asked to unload, the task starts once the memory shows free', async () => {
    const { api, calls, fake, m } = await setup('ollama', 'llama3.1:8b=5600');
    // Named in the account, with its model and whether it can be freed (idle: not yet, it was just seen).
    const res = await until(
      () => api.resources.query(),
      (r) => r.residents.some((x) => x.kind === 'ollama' && x.state === 'ok' && x.vramMB === 5600) && (r.gpus[0]?.foreignTop.length ?? 0) > 0,
      'Ollama read, holding 5.6 GB, in the GPU account',
    );
    expect(res.residents.find((x) => x.kind === 'ollama')).toMatchObject({ models: [{ name: 'llama3.1:8b', vramMB: 5600 }], pids: [fake.pid] });
    expect(res.gpus[0]!.foreignTop[0]).toMatch(/^Ollama: llama3\.1:8b 5600 MB, idle \d+ s, can be freed once idle 60 s$/);
    // Held by Ollama while it is not idle long enough: the reason names it.
    const t1 = await api.tasks.submit.mutate(gpuTask);
    const waiting = await until(
      () => api.tasks.get.query({ id: t1.id }),
      (x) => /Ollama: llama3\.1:8b 5600 MB/.test(x.waitingReason ?? ''),
      'the reason to name Ollama',
    );
    expect(waiting.state).toBe('queued');
    expect(await calls()).toEqual([]);
    // Idle after 1 s: it is asked to unload, says so, and the task runs once the memory is free.
    await api.settings.update.mutate({ residentIdleSec: 1 });
    await until(
      () => api.tasks.get.query({ id: t1.id }),
      (x) => x.state === 'succeeded' || /asked Ollama to unload llama3\.1:8b \(5600 MB\)/.test(x.waitingReason ?? ''),
      'the ask, in the reason',
    );
    const done = await until(
      () => api.tasks.get.query({ id: t1.id }),
      (x) => x.state === 'succeeded',
      'the task to run',
    );
    expect(await calls()).toEqual([{ route: 'POST /api/generate', model: 'llama3.1:8b' }]);
    expect(done.state).toBe('succeeded');
    expect(m.services.store.events(t1.id).find((e) => e.type === 'freeing')?.data).toEqual({ resident: 'ollama', models: ['llama3.1:8b'], mb: 5600 });
    const after = await api.resources.query();
    expect(after.residents.find((x) => x.kind === 'ollama')).toMatchObject({ models: [], vramMB: 0 });
  });

  it('policy never: Ollama is never asked; the task waits, and the reason says why', async () => {
    const { api, calls } = await setup('ollama', 'llama3.1:8b=5600');
    await api.settings.update.mutate({ residentIdleSec: 0, ollamaPolicy: 'never' });
    const t1 = await api.tasks.submit.mutate(gpuTask);
    const x = await until(
      () => api.tasks.get.query({ id: t1.id }),
      (v) => /Ollama: llama3\.1:8b 5600 MB, idle \d+ s, kept loaded \(policy never\)/.test(v.waitingReason ?? ''),
      'the reason to say it is kept loaded',
    );
    expect(x.state).toBe('queued');
    // A few polls and cycles later, still nothing asked.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await calls()).toEqual([]);
    expect((await api.tasks.get.query({ id: t1.id })).state).toBe('queued');
    // always: asked at once.
    await api.settings.update.mutate({ ollamaPolicy: 'always' });
    await until(
      () => api.tasks.get.query({ id: t1.id }),
      (v) => v.state === 'succeeded',
      'the task to run',
    );
    expect(await calls()).toHaveLength(1);
  });

  it('a busy ComfyUI is never asked to free; once its queue is empty and it has been idle, it is, with POST /free', async () => {
    const { api, calls, busy } = await setup('comfyui', 'sdxl=6000');
    await busy(true);
    await api.settings.update.mutate({ residentIdleSec: 1 });
    await until(
      () => api.resources.query(),
      (r) => r.residents.some((x) => x.kind === 'comfyui' && x.busy),
      'ComfyUI seen busy',
    );
    const t1 = await api.tasks.submit.mutate(gpuTask);
    await until(
      () => api.tasks.get.query({ id: t1.id }),
      (v) => /ComfyUI: loaded models 6000 MB, busy/.test(v.waitingReason ?? ''),
      'the reason to say ComfyUI is busy',
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(await calls()).toEqual([]);
    await busy(false);
    await until(
      () => api.tasks.get.query({ id: t1.id }),
      (v) => v.state === 'succeeded',
      'the task to run once ComfyUI freed',
    );
    expect(await calls()).toEqual([{ route: 'POST /free', unload_models: true, free_memory: true }]);
  });

  it('an unreachable resident is a status with a retry; its VRAM is plain foreign VRAM, and what fits still runs', async () => {
    const { api, fake } = await setup('ollama', 'llama3.1:8b=2000');
    await until(
      () => api.resources.query(),
      (r) => r.residents.some((x) => x.state === 'ok'),
      'Ollama read',
    );
    // It stops answering (the process stops, its VRAM stays listed in nvidia-smi's last files).
    fake.proc.kill('SIGSTOP');
    cleanups.push(() => {
      fake.proc.kill('SIGCONT');
    });
    const r = await until(
      () => api.resources.query(),
      (v) => v.residents.some((x) => x.state === 'unreachable'),
      'Ollama unreachable',
    );
    expect(r.residents[0]!.message).toMatch(/no answer from http:\/\/127\.0\.0\.1:\d+\/api\/ps \(no answer within 1500 ms\); tried again in \d+ s/);
    expect(r.residents[0]!.canFree).toBe(false);
    expect(r.gpus[0]!.foreignMB).toBe(2400);
    const t1 = await api.tasks.submit.mutate(gpuTask);
    await until(
      () => api.tasks.get.query({ id: t1.id }),
      (v) => v.state === 'succeeded',
      'the task that fits to run',
    );
  });

  it('pause --free-vram holds the queue, queues preemptible GPU tasks again, asks Ollama to unload, and loses nothing', async () => {
    const { api, calls } = await setup('ollama', 'llama3.1:8b=2000', { AGENTMGR_MAX_CONCURRENCY: '6' });
    await until(
      () => api.resources.query(),
      (r) => r.residents.some((x) => x.kind === 'ollama' && x.vramMB === 2000),
      'Ollama read, holding 2 GB',
    );
    const gpu = (vramMB: number) => ({ cpu: 0.1, memoryMB: 32, gpu: { count: 1, vramMB } });
    const batch = await api.tasks.submit.mutate({ agent: 'slow', input: { seconds: 600 }, preemptible: true, resources: gpu(2000) });
    const render = await api.tasks.submit.mutate({ agent: 'slow', input: { seconds: 600 }, preemptible: false, resources: gpu(1000) });
    const cpuOnly = await api.tasks.submit.mutate({ agent: 'slow', input: { seconds: 600 }, preemptible: true, resources: { cpu: 0.1, memoryMB: 32 } });
    for (const id of [batch.id, render.id, cpuOnly.id])
      await until(
        () => api.tasks.get.query({ id }),
        (x) => x.state === 'running',
        `task ${id} to run`,
      );
    const r = await api.queue.pause.mutate({ freeVram: true });
    expect(r.freed).toEqual({
      paused: true,
      requeued: [batch.id],
      kept: [{ id: render.id, why: 'not preemptible: it runs to its end' }],
      residents: [{ kind: 'ollama', label: 'Ollama', vramMB: 2000, asked: true, why: null }],
    });
    expect((await api.queue.status.query()).paused).toBe(true);
    // Queued again, its attempt ending as preempted (not failed), and held by the pause.
    const requeued = await until(
      () => api.tasks.get.query({ id: batch.id }),
      (x) => x.state === 'queued',
      'the batch task to be queued again',
    );
    expect(requeued.attemptList[0]).toMatchObject({
      outcome: 'preempted',
      reason: expect.stringMatching(/preempted to free the GPU \(pause --free-vram\); queued again/),
    });
    // Ollama was asked, and what it held is gone.
    await until(
      () => api.resources.query(),
      (x) => x.residents.some((y) => y.kind === 'ollama' && y.models.length === 0 && y.vramMB === 0),
      "Ollama's model to be unloaded",
    );
    expect(await calls()).toEqual([{ route: 'POST /api/generate', model: 'llama3.1:8b' }]);
    // What was queued stays queued while paused; the render and the CPU task run on.
    const later = await api.tasks.submit.mutate({ agent: 'ok', resources: gpu(500) });
    await new Promise((res) => setTimeout(res, 600));
    expect((await api.tasks.get.query({ id: later.id })).state).toBe('queued');
    expect((await api.tasks.get.query({ id: render.id })).state).toBe('running');
    expect((await api.tasks.get.query({ id: cpuOnly.id })).state).toBe('running');
    // Resumed: all of it runs.
    await api.queue.resume.mutate();
    await until(
      () => api.tasks.get.query({ id: later.id }),
      (x) => x.state === 'succeeded',
      'the later task to run',
    );
    const again = await until(
      () => api.tasks.get.query({ id: batch.id }),
      (x) => x.state === 'running' && x.attemptList.length === 2,
      'the batch task to run again',
    );
    expect(again.attempts).toBe(2);
    for (const id of [batch.id, render.id, cpuOnly.id]) await api.tasks.cancel.mutate({ id });
  });

  it('a resident URL that is not on this machine is refused unless the person confirms the server is theirs; nothing stored changes', async () => {
    const { api, fake } = await setup('ollama', '');
    await expect(api.settings.update.mutate({ ollamaUrl: 'http://10.0.0.2:11434' })).rejects.toThrow(
      /^ollamaUrl http:\/\/10\.0\.0\.2:11434 is not on this machine \(a resident is a server on this machine: http:\/\/127\.0\.0\.1:PORT\); if that server is yours, in a container or VM on this machine, say so with residentRemoteAllowed=true$/,
    );
    await expect(api.settings.update.mutate({ ollamaUrl: 'ftp://127.0.0.1' })).rejects.toThrow(/a resident URL is http:\/\/127\.0\.0\.1:PORT/);
    await expect(api.settings.update.mutate({ ollamaPolicy: 'sometimes' as never })).rejects.toThrow(/never, when-idle or always/);
    expect(await api.settings.get.query()).toMatchObject({ ollamaPolicy: 'when-idle', ollamaUrl: fake.url, residentRemoteAllowed: false });
    // Confirmed: taken, and polled like any other.
    const s = await api.settings.update.mutate({ ollamaUrl: 'http://10.0.0.2:11434', residentRemoteAllowed: true });
    expect(s).toMatchObject({ ollamaUrl: 'http://10.0.0.2:11434', residentRemoteAllowed: true });
    await until(
      () => api.resources.query(),
      // Whatever is (or is not) at that address here, it is no Ollama: a status, never an answer trusted.
      (r) => r.residents.some((x) => x.url === 'http://10.0.0.2:11434' && x.state !== 'ok' && /http:\/\/10\.0\.0\.2:11434\/api\/ps/.test(x.message ?? '')),
      'the remote URL polled',
    );
    // Taking the confirmation back while the URL is still remote is refused too.
    await expect(api.settings.update.mutate({ residentRemoteAllowed: false })).rejects.toThrow(/ollamaUrl http:\/\/10\.0\.0\.2:11434 is not on this machine/);
    expect((await api.settings.update.mutate({ ollamaUrl: fake.url, residentRemoteAllowed: false })).ollamaUrl).toBe(fake.url);
  });
});
