import { describe, expect, it } from 'vitest';
import { defaultPartition, gpuCount, parseSinfoJson, SlurmCapacity } from '../../../src-main/adapters/slurm/capacity.js';
import { devSlurm, slurmCli, slurmSync } from '../../helpers/slurm.js';

/** `sinfo -N --json` as 22.05 prints it (the fields read; CI's cluster prints the rest too). */
const SINFO_22_05 = JSON.stringify({
  meta: { plugin: { type: 'openapi/v0.0.38' }, Slurm: { release: '22.05.8' } },
  errors: [],
  nodes: [
    {
      name: 'gpu01',
      partitions: ['gpu', 'all'],
      state: 'mixed',
      state_flags: [],
      idle_cpus: 12,
      real_memory: 64_000,
      alloc_memory: 16_000,
      gres: 'gpu:a100:4(S:0-1)',
      gres_used: 'gpu:a100:3(IDX:0-2)',
    },
    {
      name: 'gpu02',
      partitions: ['gpu'],
      state: 'idle',
      state_flags: ['DRAIN'],
      idle_cpus: 32,
      real_memory: 64_000,
      alloc_memory: 0,
      gres: 'gpu:a100:4',
      gres_used: 'gpu:a100:0(IDX:N/A)',
    },
    {
      name: 'cpu01',
      partitions: ['all'],
      state: 'allocated',
      state_flags: [],
      idle_cpus: 0,
      real_memory: 32_000,
      alloc_memory: 32_000,
      gres: '',
      gres_used: '',
    },
    {
      name: 'cpu02',
      partitions: ['all'],
      state: 'down',
      state_flags: ['NOT_RESPONDING'],
      idle_cpus: 8,
      real_memory: 32_000,
      alloc_memory: 0,
      gres: '(null)',
      gres_used: '(null)',
    },
  ],
});

/** `sinfo -N --json` as 23.02 to 24.11 print it: one entry per node and partition, numbers wrapped. */
const SINFO_24_11 = JSON.stringify({
  errors: [],
  warnings: [],
  meta: {},
  sinfo: [
    {
      partition: { name: 'gpu' },
      node: { state: ['MIXED'] },
      nodes: { allocated: 1, idle: 0, other: 0, total: 1, nodes: ['g1'] },
      cpus: { allocated: 4, idle: 60, other: 0, total: 64 },
      memory: { minimum: 256_000, maximum: 256_000, free: { minimum: { set: true, infinite: false, number: 250_000 } }, allocated: 8192 },
      gres: { total: 'tmpsize:7T,gpu:l40s:4(S:0-1)', used: 'gpu:l40s:1(IDX:0),tmpsize:10737418240' },
    },
    {
      partition: { name: 'long' },
      node: { state: ['MIXED'] },
      nodes: { nodes: ['g1'] },
      cpus: { idle: 60 },
      memory: { maximum: 256_000, allocated: 8192 },
      gres: { total: 'gpu:l40s:4(S:0-1)', used: 'gpu:l40s:1(IDX:0)' },
    },
    {
      partition: { name: 'gpu' },
      node: { state: ['IDLE', 'DRAIN'] },
      nodes: { nodes: ['g2'] },
      cpus: { idle: 64 },
      memory: { maximum: 256_000, allocated: 0 },
      gres: { total: 'gpu:l40s:4', used: 'gpu:l40s:0' },
    },
  ],
});

describe('what the cluster has free (sinfo --json)', () => {
  it('22.05: free CPUs, memory and GPUs per node; drained, down and full nodes are not usable', () => {
    expect(parseSinfoJson(SINFO_22_05)).toEqual([
      { name: 'gpu01', partitions: ['gpu', 'all'], usable: true, idleCpus: 12, freeMemoryMB: 48_000, freeGpus: 1 },
      { name: 'gpu02', partitions: ['gpu'], usable: false, idleCpus: 32, freeMemoryMB: 64_000, freeGpus: 4 },
      { name: 'cpu01', partitions: ['all'], usable: false, idleCpus: 0, freeMemoryMB: 0, freeGpus: 0 },
      { name: 'cpu02', partitions: ['all'], usable: false, idleCpus: 8, freeMemoryMB: 32_000, freeGpus: 0 },
    ]);
  });

  it('23.02+: a node listed once per partition comes back once, with all of them', () => {
    expect(parseSinfoJson(SINFO_24_11)).toEqual([
      { name: 'g1', partitions: ['gpu', 'long'], usable: true, idleCpus: 60, freeMemoryMB: 247_808, freeGpus: 3 },
      { name: 'g2', partitions: ['gpu'], usable: false, idleCpus: 64, freeMemoryMB: 256_000, freeGpus: 4 },
    ]);
  });

  it('GPU counts from GRES strings, with types, sockets, indices and other GRES beside them', () => {
    expect(gpuCount('gpu:1')).toBe(1);
    expect(gpuCount('gpu:l40s:4(S:0-1)')).toBe(4);
    expect(gpuCount('gpu:tesla:2(IDX:0,2),gpu:a100:1(IDX:3)')).toBe(3);
    expect(gpuCount('tmpsize:7T,gpu:a100:2')).toBe(2);
    expect(gpuCount('(null)')).toBe(0);
    expect(gpuCount(undefined)).toBe(0);
  });

  it('a controller that cannot be asked, or output that is not sinfo, is an error, never "no room"', () => {
    expect(() =>
      parseSinfoJson(JSON.stringify({ errors: [{ error: 'Unable to contact slurm controller', description: 'slurm_load_node' }], nodes: [] })),
    ).toThrow(/sinfo: Unable to contact slurm controller: slurm_load_node/);
    expect(() => parseSinfoJson('sinfo: error: ...')).toThrow(/not JSON/);
    expect(() => parseSinfoJson('{}')).toThrow(/neither a "nodes" nor a "sinfo" list/);
  });

  it("the default partition from scontrol's one-line records", () => {
    expect(defaultPartition('PartitionName=a Default=NO State=UP\nPartitionName=b AllowGroups=ALL Default=YES QoS=N/A\n')).toBe('b');
    expect(defaultPartition('PartitionName=a Default=NO\n')).toBeNull();
  });
});

describe.skipIf(!devSlurm())('what the dev cluster has free, asked of its real sinfo', () => {
  it('its one node, 16 CPUs and the fake GPU, in the default partition (debug) and in the one set', async () => {
    const name = slurmSync('sinfo', ['-h', '-N', '-o', '%N']).trim().split('\n')[0]!;
    const nodes = await new SlurmCapacity(slurmCli(), null).freeNodes();
    expect(nodes).toEqual([expect.objectContaining({ name, usable: true, partitions: ['debug', 'small'] })]);
    expect(nodes[0]!.idleCpus).toBeGreaterThan(0);
    expect(nodes[0]!.freeGpus).toBeLessThanOrEqual(1);
    expect(await new SlurmCapacity(slurmCli(), 'small').freeNodes()).toHaveLength(1);
    expect(await new SlurmCapacity(slurmCli(), 'nosuch').freeNodes()).toEqual([]);
  });

  it('a cluster that does not answer is an error', async () => {
    await expect(new SlurmCapacity(slurmCli({ bin: '/nonexistent' }), 'debug').freeNodes()).rejects.toThrow(/sinfo: .*not found/);
  });
});
