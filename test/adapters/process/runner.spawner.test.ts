// The runner tests of ./runner.test.ts, unchanged, with agents started through the spawner (ADR 22).
process.env.AGENTMGR_TEST_SPAWNER = '1';
await import('./runner.test.js');
