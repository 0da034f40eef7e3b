// `node dist/sinker/probe.js PORT_FILE PATH`: the exec probe of a sinker whose metrics port is
// ephemeral (pods on the host network share the node's ports, so each binds any free one and writes
// it to metrics.port_file). Reads the port, GETs http://127.0.0.1:PORT/PATH, exits 0 on HTTP 200 and
// 1 otherwise, with the reason on stderr (the kubelet shows it in the pod's events). Imports nothing
// of the sinker: the kubelet runs it every few seconds, so it must start fast.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';

const TIMEOUT_MS = 3000;

export function parsePortFile(text: string, path: string): number {
  const port = Number(text.trim());
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`${path}: not a port: ${JSON.stringify(text)}`);
  return port;
}

export function probe(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function main(argv: string[]): Promise<number> {
  const [file, path] = argv;
  if (!file || !path?.startsWith('/')) {
    process.stderr.write('usage: probe.js PORT_FILE /healthz|/readyz\n');
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    process.stderr.write(`${file} not written yet: the sinker is not listening\n`);
    return 1;
  }
  try {
    const port = parsePortFile(text, file);
    const r = await probe(port, path);
    if (r.status === 200) return 0;
    process.stderr.write(`${path} on port ${port}: HTTP ${r.status} ${r.body.trim()}\n`);
    return 1;
  } catch (err) {
    process.stderr.write(`${path}: ${(err as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
