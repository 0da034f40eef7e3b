import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parsePortFile } from './probe.ts';

const PROBE = fileURLToPath(new URL('./probe.ts', import.meta.url));

test('parsePortFile: a number on a line; anything else names the file', () => {
  assert.equal(parsePortFile('43117\n', '/tmp/p'), 43117);
  assert.throws(() => parsePortFile('', '/tmp/p'), /\/tmp\/p: not a port/);
  assert.throws(() => parsePortFile('0\n', '/tmp/p'), /not a port/);
  assert.throws(() => parsePortFile('80x', '/tmp/p'), /not a port/);
});

test('probe.js: exit 0 on HTTP 200, 1 on 503 or no port file, via the port the file names', async () => {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 503);
    res.end(req.url === '/healthz' ? 'ok\n' : 'kafka: not joined\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'probe-'));
  const file = join(dir, 'metrics-port');
  // Asynchronously: spawnSync would block the server this process runs.
  const run = (path: string) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [PROBE, file, path], (err, _out, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stderr }),
      );
    });
  try {
    const missing = await run('/healthz');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not written yet/);
    writeFileSync(file, `${(server.address() as AddressInfo).port}\n`);
    assert.equal((await run('/healthz')).code, 0);
    const notReady = await run('/readyz');
    assert.equal(notReady.code, 1);
    assert.match(notReady.stderr, /HTTP 503 kafka: not joined/);
    const usage = spawnSync(process.execPath, [PROBE], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
