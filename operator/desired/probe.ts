// The exec probe of sinker pods on the host network, where each sinker binds any free metrics port
// and writes it to METRICS_PORT_FILE (objects.ts says why). A bash script, not a Node one: the kubelet
// runs it every few seconds inside the sinker's own CPU limit, and starting Node there took over the
// 5 s probe timeout under load (bash starts in a few ms). It needs only bash (the Debian base image's)
// and its /dev/tcp redirection: read the port, send GET PATH over 127.0.0.1, pass on HTTP 200.
import { METRICS_PORT_FILE } from './names.ts';

/** $1 = port file, $2 = path. Failure output (the kubelet shows it in the pod's events) names why. */
export const PROBE_SCRIPT = [
  'port=$(cat "$1" 2>/dev/null) || { echo "$1 not written yet: the sinker is not listening"; exit 1; }',
  'exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "$2: cannot connect to port $port"; exit 1; }',
  `printf 'GET %s HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' "$2" >&3`,
  'read -r _ code _ <&3',
  '[ "$code" = 200 ] && exit 0',
  '[ -n "$code" ] || code="no answer"',
  'echo "$2 on port $port: HTTP $code"; tr -d "\\r" <&3 | sed "1,/^$/d"; exit 1',
].join('\n');

/** The probe's command for `path` (/healthz or /readyz). */
export function probeCommand(path: string): string[] {
  return ['bash', '-c', PROBE_SCRIPT, 'sinker-probe', METRICS_PORT_FILE, path];
}
