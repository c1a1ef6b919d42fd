import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { residentHarness, until } from '../helpers/residents.js';

/**
 * The bundled ollama and comfyui agents, end to end through the whole Manager against the fake
 * servers (their documented APIs): the Manager is the queue in front of them, and while such a
 * task runs the server's VRAM (up to the task's request) counts as the task's.
 */
const { setup } = residentHarness();

const gpu = (vramMB: number) => ({ cpu: 0.1, memoryMB: 32, gpu: { count: 1, vramMB } });

describe('the ollama agent', () => {
  it("asks the model, streams the answer, and the result and answer.md hold it; the request comes from the model's size, and its VRAM counts as the task's while it runs", async () => {
    const { api, calls } = await setup('ollama', '', { AGENTMGR_MAX_CONCURRENCY: '6' }, [
      '--available',
      'llama3.1:8b=4700',
      '--load-ms',
      '300',
      '--token-ms',
      '10',
    ]);
    await until(
      () => api.resources.query(),
      (r) => r.residents.some((x) => x.kind === 'ollama' && x.state === 'ok'),
      'Ollama read',
    );
    // Not loaded: its VRAM request is estimated from its weights in /api/tags (4700 MB).
    const chat = await api.tasks.submit.mutate({ agent: 'ollama', input: { model: 'llama3.1:8b', prompt: 'hello there', options: { num_predict: 300 } } });
    expect(chat.resources.gpu).toEqual({ count: 1, vramMB: Math.ceil(4700 * 1.15 + 512) });
    const running = await until(
      () => api.resources.query(),
      (r) =>
        r.residents.some((x) => x.kind === 'ollama' && x.vramMB > 5000 && x.serving.includes(chat.id)) &&
        r.gpus[0]!.foreignTop.length > 0 &&
        r.gpus[0]!.foreignMB < 5917 &&
        // Named once Ollama's /api/ps poll has caught up with nvidia-smi's process list.
        r.gpus[0]!.foreignTop[0]!.startsWith('Ollama: llama3.1:8b'),
      'the model loaded for the chat, in nvidia-smi, counted once its two loops agree, and named by its model',
    );
    // Counted once: as the task's (the desktop's 400 MB is all that is foreign), so a 1.5 GB task fits beside it.
    // (While nvidia-smi's two loops disagree it may be counted twice for the reading window: never less than held.)
    expect(running.gpus[0]!.foreignMB).toBe(400);
    expect(running.gpus[0]!.oursMB).toBe(5917);
    expect(running.gpus[0]!.foreignTop[0]).toMatch(/^Ollama: llama3\.1:8b 5917 MB, serving task \d+, kept while it does$/);
    const beside = await api.tasks.submit.mutate({ agent: 'ok', resources: gpu(1500) });
    await until(
      () => api.tasks.get.query({ id: beside.id }),
      (x) => x.state === 'succeeded',
      'the 1.5 GB task to run beside the chat',
    );
    // A task that needs Ollama's memory waits for the chat: Ollama is not unloaded under it, whatever its policy.
    await api.settings.update.mutate({ residentIdleSec: 0, ollamaPolicy: 'always' });
    const big = await api.tasks.submit.mutate({ agent: 'ok', resources: gpu(3000) });
    // Read in this order, a chat still running at the end was running throughout.
    const asked = await calls();
    const bigThen = await api.tasks.get.query({ id: big.id });
    if ((await api.tasks.get.query({ id: chat.id })).state === 'running') {
      expect(asked).toEqual([]);
      expect(bigThen.state).toBe('queued');
    }
    const done = await until(
      () => api.tasks.get.query({ id: chat.id }),
      (x) => x.state === 'succeeded' || x.state === 'failed',
      'the chat to end',
    );
    expect(done.error).toBeNull();
    const answer = (done.result as { answer: string }).answer;
    expect(answer.startsWith('You said: hello there')).toBe(true);
    expect(answer.split(' ')).toHaveLength(300);
    expect(done.result).toMatchObject({ model: 'llama3.1:8b', doneReason: 'stop', answerTokens: 300 });
    const artifact = done.artifacts.find((a) => a.name === 'answer.md')!;
    expect(readFileSync(artifact.path, 'utf8')).toBe(answer + '\n');
    // Once it has ended the model left loaded is a resident like any other: freed for the waiting task.
    await until(
      () => api.tasks.get.query({ id: big.id }),
      (x) => x.state === 'succeeded',
      'the 3 GB task to run once Ollama unloaded',
    );
    expect(await calls()).toEqual([{ route: 'POST /api/generate', model: 'llama3.1:8b' }]);
    // Unloaded, it is the estimate again; a model without a tag is its ":latest", which is not pulled here.
    const again = await api.tasks.submit.mutate({ agent: 'ollama', input: { model: 'llama3.1:8b', prompt: 'hi' } });
    expect(again.resources.gpu?.vramMB).toBe(5917);
    expect((await api.tasks.submit.mutate({ agent: 'ollama', input: { model: 'llama3.1', prompt: 'hi' }, hold: true })).resources.gpu?.vramMB).toBe(6144);
    await until(
      () => api.tasks.get.query({ id: again.id }),
      (x) => x.state === 'succeeded',
      'the second chat',
    );
  });

  it('cancel drops the request (Ollama stops generating); a model that is not pulled fails saying how to pull it', async () => {
    const { api, calls } = await setup('ollama', 'llama3.1:8b=5600', {}, ['--token-ms', '20']);
    await until(
      () => api.resources.query(),
      (r) => r.residents.some((x) => x.kind === 'ollama' && x.state === 'ok'),
      'Ollama read',
    );
    const chat = await api.tasks.submit.mutate({ agent: 'ollama', input: { model: 'llama3.1:8b', prompt: 'go on', options: { num_predict: 100000 } } });
    // Loaded: the request is what it holds, and it starts at once, though 8188 − 400 − 5600 MB would leave it too
    // little: the memory it needs is its own model's.
    expect(chat.resources.gpu?.vramMB).toBe(5600);
    await until(
      () => api.tasks.get.query({ id: chat.id }),
      (x) => x.state === 'running' && /\d+ tokens so far/.test(x.progressMessage ?? ''),
      'the answer to stream',
    );
    await api.tasks.cancel.mutate({ id: chat.id });
    await until(
      () => api.tasks.get.query({ id: chat.id }),
      (x) => x.state === 'cancelled',
      'the chat to be cancelled',
    );
    await until(calls, (c) => c.some((x) => (x as { route: string }).route === 'dropped'), 'Ollama to see the request dropped');

    // Ollama may be asked for the room now: a task for another model gets it (and that model is not pulled).
    await api.settings.update.mutate({ residentIdleSec: 0 });
    const missing = await api.tasks.submit.mutate({ agent: 'ollama', input: { model: 'mistral:7b', prompt: 'hi' }, maxAttempts: 1 });
    // Unknown to Ollama: the agent's own default request.
    expect(missing.resources.gpu?.vramMB).toBe(6144);
    const failed = await until(
      () => api.tasks.get.query({ id: missing.id }),
      (x) => x.state === 'failed',
      'the unknown model to fail',
    );
    expect(failed.error).toMatch(
      /^attempt 1: exit code 2: ollama: model "mistral:7b" not found, try pulling it first \(pull it with `ollama pull mistral:7b`\)$/,
    );
    // Bad input is refused at submit, saying what to fix.
    await expect(api.tasks.submit.mutate({ agent: 'ollama', input: { prompt: 'hi' } })).rejects.toThrow(/input for agent ollama is invalid: .*model/);
  });
});

/** A text-to-image workflow in ComfyUI's API format: what Workflow → Export (API) writes. */
const workflow = (steps: number) => ({
  '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd_xl_base_1.0.safetensors' } },
  '5': { class_type: 'EmptyLatentImage', inputs: { width: 1024, height: 1024, batch_size: 1 } },
  '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a lighthouse at dusk', clip: ['4', 1] } },
  '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['4', 1] } },
  '3': {
    class_type: 'KSampler',
    inputs: {
      seed: 42,
      steps,
      cfg: 7,
      sampler_name: 'euler',
      scheduler: 'normal',
      denoise: 1,
      model: ['4', 0],
      positive: ['6', 0],
      negative: ['7', 0],
      latent_image: ['5', 0],
    },
  },
  '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
  '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'lighthouse', images: ['8', 0] } },
});

describe('the comfyui agent', () => {
  it('runs an API-format workflow with step progress over the WebSocket; the saved image is an artifact; ComfyUI counts as the task', async () => {
    const { api, dir } = await setup('comfyui', '', {}, ['--step-ms', '60', '--load-ms', '200', '--checkpoint-mb', '4200']);
    await until(
      () => api.resources.query(),
      (r) => r.residents.some((x) => x.kind === 'comfyui' && x.state === 'ok'),
      'ComfyUI read',
    );
    const file = join(dir, 'lighthouse.json');
    writeFileSync(file, JSON.stringify(workflow(60)));
    const job = await api.tasks.submit.mutate({ agent: 'comfyui', input: { file } });
    expect(job.resources.gpu).toEqual({ count: 1, vramMB: 6144 });
    const stepping = await until(
      () => api.tasks.get.query({ id: job.id }),
      // Or it ended (then the state below says how); 'starting' lasts until the spawner says the pid.
      (x) => !['queued', 'starting', 'running'].includes(x.state) || /^step \d+ of 60 \(node 3\)$/.test(x.progressMessage ?? ''),
      'step progress from the WebSocket',
    );
    expect(stepping.state).toBe('running');
    // The checkpoint it loaded, in nvidia-smi under ComfyUI's pid: the task's, not foreign.
    const r = await until(
      () => api.resources.query(),
      (v) => v.residents.some((x) => x.kind === 'comfyui' && x.vramMB === 4200) && v.gpus[0]!.foreignTop.length > 0 && v.gpus[0]!.foreignMB < 4200,
      'the checkpoint loaded, in nvidia-smi, counted once its two loops agree',
    );
    expect(r.residents.find((x) => x.kind === 'comfyui')!.serving).toEqual([job.id]);
    expect(r.gpus[0]!.foreignMB).toBe(400);
    const done = await until(
      () => api.tasks.get.query({ id: job.id }),
      (x) => x.state === 'succeeded' || x.state === 'failed',
      'the workflow to end',
    );
    expect(done.error).toBeNull();
    expect(done.result).toEqual({
      promptId: expect.any(String),
      outputs: [{ node: '9', name: expect.stringMatching(/^lighthouse_\d{5}_\.png$/), subfolder: '' }],
    });
    const png = done.artifacts.find((a) => a.name.endsWith('.png'))!;
    expect(readFileSync(png.path).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    // Learned from what ComfyUI held while it ran (the checkpoint, 4.2 GB).
    expect(done.attemptList[0]!.peakVramMB).toBe(4200);
  });

  it("cancel interrupts the prompt in ComfyUI; a UI-format workflow fails saying to export it with Save (API); ComfyUI's own refusal is passed on", async () => {
    const { api, calls, dir } = await setup('comfyui', '', {}, ['--step-ms', '50']);
    await until(
      () => api.resources.query(),
      (r) => r.residents.some((x) => x.kind === 'comfyui' && x.state === 'ok'),
      'ComfyUI read',
    );
    const file = join(dir, 'long.json');
    writeFileSync(file, JSON.stringify(workflow(10000)));
    const job = await api.tasks.submit.mutate({ agent: 'comfyui', input: { file } });
    await until(
      () => api.tasks.get.query({ id: job.id }),
      (x) => /^step \d+ of 10000/.test(x.progressMessage ?? ''),
      'the sampler to step',
    );
    await api.tasks.cancel.mutate({ id: job.id });
    await until(
      () => api.tasks.get.query({ id: job.id }),
      (x) => x.state === 'cancelled',
      'the job to be cancelled',
    );
    const interrupt = (await calls()).find((c) => (c as { route: string }).route === 'POST /interrupt') as { prompt_id: string } | undefined;
    expect(interrupt?.prompt_id).toMatch(/^[0-9a-f-]{36}$/);
    // ComfyUI's queue is empty again: the interrupt stopped it.
    await until(
      () => api.resources.query(),
      (r) => r.residents.some((x) => x.kind === 'comfyui' && !x.busy),
      'ComfyUI idle again',
    );

    // What ComfyUI holds now (the checkpoint the cancelled job loaded) was our task's doing, not the
    // person's: the next job has it freed at once, not after the 60 s idle time.
    expect((await api.settings.get.query()).residentIdleSec).toBe(60);
    const ui = join(dir, 'ui.json');
    writeFileSync(ui, JSON.stringify({ last_node_id: 9, last_link_id: 9, nodes: [{ id: 3, type: 'KSampler' }], links: [], version: 0.4 }));
    const bad = await api.tasks.submit.mutate({ agent: 'comfyui', input: { file: ui } });
    const failed = await until(
      () => api.tasks.get.query({ id: bad.id }),
      (x) => x.state === 'failed',
      'the UI-format workflow to fail',
    );
    expect(failed.error).toMatch(/comfyui: .*ui\.json is a workflow in ComfyUI's UI format .*Export \(API\).*"Save \(API\)"/);

    const noOutput = join(dir, 'no-output.json');
    const w = workflow(5) as Record<string, unknown>;
    delete w['9'];
    writeFileSync(noOutput, JSON.stringify(w));
    const refused = await api.tasks.submit.mutate({ agent: 'comfyui', input: { file: noOutput } });
    expect(
      (
        await until(
          () => api.tasks.get.query({ id: refused.id }),
          (x) => x.state === 'failed',
          'the workflow without outputs to fail',
        )
      ).error,
    ).toMatch(/comfyui: ComfyUI refused the workflow: Prompt has no outputs$/);
  });
});
