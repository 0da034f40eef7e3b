import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { METRICS_PORT_FILE } from './names.ts';
import { PROBE_SCRIPT, probeCommand } from './probe.ts';

/** Runs the script with bash as the kubelet would, with the port file at `file`. */
function runProbe(file: string, path: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', PROBE_SCRIPT, 'sinker-probe', file, path], { timeout: 5000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, out: stdout + stderr }),
    );
  });
}

test('probeCommand: bash with the script, the port file and the path', () => {
  assert.deepEqual(probeCommand('/readyz'), ['bash', '-c', PROBE_SCRIPT, 'sinker-probe', METRICS_PORT_FILE, '/readyz']);
});

test('the probe script: 0 on HTTP 200, 1 with the reason on 503, no port file or a closed port', async () => {
  const server = createServer((req, res) => {
    const ok = req.url === '/healthz';
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(ok ? 'ok\n' : 'kafka: not joined to the consumer group yet\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'probe-'));
  const file = join(dir, 'metrics-port');
  try {
    const missing = await runProbe(file, '/healthz');
    assert.equal(missing.code, 1);
    assert.match(missing.out, /not written yet/);
    writeFileSync(file, `${port}\n`);
    assert.deepEqual(await runProbe(file, '/healthz'), { code: 0, out: '' });
    const notReady = await runProbe(file, '/readyz');
    assert.equal(notReady.code, 1);
    assert.match(notReady.out, /\/readyz on port \d+: HTTP 503/);
    assert.match(notReady.out, /kafka: not joined to the consumer group yet/);
    server.close();
    await new Promise((r) => setTimeout(r, 50));
    const closed = await runProbe(file, '/healthz');
    assert.equal(closed.code, 1);
    assert.match(closed.out, /cannot connect to port/);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
