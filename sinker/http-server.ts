// The sinker's HTTP endpoints: Prometheus metrics, /healthz (the process works) and /readyz (Kafka
// joined and schema loaded), plus profiling endpoints on a separate listener that is off by default
// and bound to localhost, because a CPU profile or heap snapshot exposes the process's memory.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthCheck {
  /** Name shown in the reply, e.g. "kafka" or "schema". */
  name: string;
  /** Returns undefined when healthy, else a short reason. */
  check: () => string | undefined;
}

export interface StatusServerOptions {
  /**
   * Listen address. Unset: every address, IPv6 and IPv4 (Node listens on `::`, dual-stack, or on
   * 0.0.0.0 where the host has no IPv6), as a pod's probes and Prometheus need on a cluster of
   * either family; 0.0.0.0 refused them on an IPv6-only one.
   */
  host?: string;
  port: number;
  metricsPath: string;
  registry?: Registry;
  liveness: HealthCheck[];
  readiness: HealthCheck[];
}

function reply(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function runChecks(checks: HealthCheck[]): { ok: boolean; body: string } {
  const failures = checks.flatMap((c) => {
    const reason = c.check();
    return reason === undefined ? [] : [`${c.name}: ${reason}`];
  });
  return failures.length === 0 ? { ok: true, body: 'ok\n' } : { ok: false, body: `${failures.join('\n')}\n` };
}

async function listen(server: Server, host: string | undefined, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, ...(host === undefined ? {} : { host }) }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export interface RunningServer {
  port: number;
  close: () => Promise<void>;
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
}

export async function startStatusServer(options: StatusServerOptions): Promise<RunningServer> {
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === options.metricsPath && options.registry) {
        reply(res, 200, await options.registry.metrics(), options.registry.contentType);
      } else if (path === '/healthz' || path === '/livez') {
        const r = runChecks(options.liveness);
        reply(res, r.ok ? 200 : 503, r.body);
      } else if (path === '/readyz') {
        const r = runChecks([...options.liveness, ...options.readiness]);
        reply(res, r.ok ? 200 : 503, r.body);
      } else {
        reply(res, 404, 'not found\n');
      }
    } catch (err) {
      reply(res, 500, `${(err as Error).message}\n`);
    }
  });
  const port = await listen(server, options.host, options.port);
  return { port, close: closer(server) };
}

/** Whether `host` (an address or a name, IPv6 with or without brackets) is this machine's loopback. */
function isLoopback(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The host name of a Host header, without its port. */
function hostOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.startsWith('[')) return header.slice(0, header.indexOf(']') + 1);
  return header.split(':')[0];
}

/**
 * GET /debug/pprof/profile?seconds=N → a V8 CPU profile (.cpuprofile JSON, open in Chrome DevTools);
 * GET /debug/pprof/heap → a heap snapshot (.heapsnapshot). One profile at a time.
 * Bound to loopback (the default), it answers only requests addressed to a loopback name or address:
 * a web page whose own name an attacker points at 127.0.0.1 (DNS rebinding) could otherwise read a
 * heap snapshot, passwords included, from the browser of the machine the sinker runs on.
 */
export async function startProfilingServer(host: string, port: number): Promise<RunningServer> {
  let busy = false;
  const loopbackOnly = isLoopback(host);
  const server = createServer(async (req, res) => {
    if (loopbackOnly && !isLoopback(hostOf(req.headers.host))) {
      reply(res, 403, 'profiling answers only requests addressed to localhost, 127.0.0.1 or [::1]\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/debug/pprof/profile' && url.pathname !== '/debug/pprof/heap') {
      reply(res, 404, 'endpoints: /debug/pprof/profile?seconds=N, /debug/pprof/heap\n');
      return;
    }
    // A HEAD (a link checker, a probe) would take a profile, and a heap snapshot costs gigabytes.
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      reply(res, 405, 'GET only\n');
      return;
    }
    if (busy) {
      reply(res, 409, 'a profile is already being taken\n');
      return;
    }
    busy = true;
    const session = new Session();
    session.connect();
    try {
      if (url.pathname === '/debug/pprof/profile') {
        const seconds = Number(url.searchParams.get('seconds') ?? '10');
        if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 300) {
          reply(res, 400, 'seconds must be a number in (0, 300]\n');
          return;
        }
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
        await new Promise((r) => setTimeout(r, seconds * 1000));
        const { profile } = await session.post('Profiler.stop');
        res.setHeader('content-disposition', 'attachment; filename="sinker.cpuprofile"');
        reply(res, 200, JSON.stringify(profile), 'application/json');
      } else {
        const chunks: string[] = [];
        session.on('HeapProfiler.addHeapSnapshotChunk', (m) => chunks.push(m.params.chunk));
        await session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
        res.setHeader('content-disposition', 'attachment; filename="sinker.heapsnapshot"');
        reply(res, 200, chunks.join(''), 'application/json');
      }
    } catch (err) {
      reply(res, 500, `${(err as Error).message}\n`);
    } finally {
      session.disconnect();
      busy = false;
    }
  });
  const bound = await listen(server, host, port);
  return { port: bound, close: closer(server) };
}
