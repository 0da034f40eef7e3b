import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { startProfilingServer, startStatusServer } from './http-server.ts';

test('metrics, healthz and readyz answer from the live checks', async () => {
  const registry = new Registry();
  new Counter({ name: 'probe_total', help: 'x', registers: [registry] }).inc(3);
  let kafkaJoined = false;
  const server = await startStatusServer({
    host: '127.0.0.1',
    port: 0,
    metricsPath: '/metrics',
    registry,
    liveness: [{ name: 'loop', check: () => undefined }],
    readiness: [{ name: 'kafka', check: () => (kafkaJoined ? undefined : 'not joined to the group yet') }],
  });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^probe_total 3$/m);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const notReady = await fetch(`${base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.equal(await notReady.text(), 'kafka: not joined to the group yet\n');
    kafkaJoined = true;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  } finally {
    await server.close();
  }
});

test('profiling server returns a CPU profile and a heap snapshot', async () => {
  const server = await startProfilingServer('127.0.0.1', 0);
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const cpu = await fetch(`${base}/debug/pprof/profile?seconds=0.2`);
    assert.equal(cpu.status, 200);
    const profile = (await cpu.json()) as { nodes: unknown[]; startTime: number };
    assert.ok(profile.nodes.length > 0);
    assert.equal((await fetch(`${base}/debug/pprof/profile?seconds=abc`)).status, 400);
    const heap = await fetch(`${base}/debug/pprof/heap`);
    assert.equal(heap.status, 200);
    const snapshot = (await heap.json()) as { snapshot: { node_count: number } };
    assert.ok(snapshot.snapshot.node_count > 1000);
  } finally {
    await server.close();
  }
});
