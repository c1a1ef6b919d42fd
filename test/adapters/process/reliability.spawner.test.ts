// The reliability tests of ./reliability.test.ts, unchanged, with agents started through the spawner (ADR 22).
process.env.AGENTMGR_TEST_SPAWNER = '1';
await import('./reliability.test.js');
