// Smoke tests probe their component's port first: a client library left to its own retries would
// hang or fail with a bare ECONNREFUSED, while this names the component and the command that starts it.
import { connect } from 'node:net';

/** Resolves when something accepts TCP connections on `hostPort`; otherwise throws naming `component`. */
export async function requireListening(component: string, hostPort: string, timeoutMs = 3000): Promise<void> {
  const { host, port } = splitHostPort(hostPort);
  const problem = await new Promise<string | undefined>((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve(undefined);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? err.message);
    });
  });
  if (problem !== undefined) {
    throw new Error(
      `${component} is down: nothing accepts connections on ${hostPort} (${problem}). ` +
        `Start it with \`test/infra/up ${component}\`; \`test/infra/status\` shows what runs.`,
    );
  }
}

/** `host:port` or an URL (`redis://h:p`, `https://h:p`) to its host and port. */
export function splitHostPort(address: string): { host: string; port: number } {
  const hostPort = address.includes('://') ? new URL(address).host : address;
  const colon = hostPort.lastIndexOf(':');
  const port = Number(hostPort.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0) throw new Error(`not a host:port address: ${address}`);
  return { host: hostPort.slice(0, colon), port };
}
