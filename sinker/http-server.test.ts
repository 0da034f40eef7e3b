import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    for (const method of ['HEAD', 'POST']) {
      const r = await fetch(`${base}/debug/pprof/heap`, { method });
      assert.equal(r.status, 405, `${method}: no snapshot taken`);
      assert.equal(r.headers.get('allow'), 'GET');
    }
    const heap = await fetch(`${base}/debug/pprof/heap`);
    assert.equal(heap.status, 200);
    const snapshot = (await heap.json()) as { snapshot: { node_count: number } };
    assert.ok(snapshot.snapshot.node_count > 1000);
  } finally {
    await server.close();
  }
});

test('profiling bound to loopback answers only requests addressed to loopback (no DNS rebinding)', async () => {
  const server = await startProfilingServer('127.0.0.1', 0);
  const get = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/debug/pprof/nope', headers: { host } });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  try {
    // A page of attacker.example, its name pointed at 127.0.0.1: the browser sends its own name.
    assert.equal(await get(`attacker.example:${server.port}`), 403);
    assert.equal(await get('127.0.0.1.attacker.example'), 403);
    // Addressed to loopback: past the check (404: no such endpoint).
    for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`, 'LOCALHOST']) {
      assert.equal(await get(host), 404, host);
    }
  } finally {
    await server.close();
  }
});

/** Runs the sinker with `extra` YAML appended to a config whose servers it never reaches; exit code and stderr. */
async function runSinker(extra: string): Promise<{ code: number | null; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ports-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `name: ports
kafka: { brokers: ["127.0.0.1:1"], topic: t, group_id: g }
doris: { fe_hosts: ["127.0.0.1:1"], database: d, table: t, user: u }
dedupe: { redis_url: "", required: false }
${extra}
`,
  );
  const child = spawn(process.execPath, [new URL('./main.ts', import.meta.url).pathname, '-config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  // Past the ports it would wait for Doris for good: stopped then (the test fails on the output).
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr };
}

test('a metrics or pprof port another process holds stops start-up with exit 2 and one line naming the key', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as { port: number }).port;
  try {
    for (const [extra, key] of [
      [`metrics: { port: ${port} }`, 'metrics.port'],
      [`metrics: { port: 0 }\npprof: { enabled: true, port: ${port} }`, 'pprof.host, pprof.port'],
    ] as const) {
      const r = await runSinker(extra);
      assert.equal(r.code, 2, `${key}: exit code; stderr: ${r.stderr}`);
      // The address is :: or 0.0.0.0 (metrics, by the host's IPv6), or pprof.host.
      const line = new RegExp(`^doris-sinker: ${key}: listen EADDRINUSE: address already in use \\S+:${port}\n$`);
      assert.match(r.stderr, line);
    }
  } finally {
    holder.close();
  }
});
