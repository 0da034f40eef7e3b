// The peer of DESIGN §8: the official Apache Doris Kafka connector on Kafka Connect standalone. It is
// run only if its jar can be had from Maven Central; otherwise the evidence (each URL asked and the
// HTTP code, plus control URLs that show the repository itself is reachable) goes into the result.
import { execFileSync } from 'node:child_process';

const CENTRAL = 'https://repo.maven.apache.org/maven2';
const ARTIFACT = 'doris-kafka-connector';
/** Versions named in the connector's docs and release history (1.x, then 24.x/25.x numbering). */
const VERSIONS = ['1.0.0', '1.1.0', '1.1.1', '24.0.0', '25.0.0', '25.1.0'];
/** org.apache.doris is the pom's groupId; the scm and shading in its pom history name com.selectdb. */
const GROUPS = ['org/apache/doris', 'com/selectdb'];
/** Same repository, same proxy, artifacts that exist: a 200 here means the 404s above are real. */
const CONTROLS = [
  `${CENTRAL}/org/apache/kafka/connect-api/maven-metadata.xml`,
  `${CENTRAL}/org/apache/doris/flink-doris-connector-1.18/maven-metadata.xml`,
];

export interface UrlCheck {
  url: string;
  http: number;
}

export interface PeerResult {
  connector: string;
  available: boolean;
  reason?: string;
  checked_at: string;
  evidence: UrlCheck[];
  controls: UrlCheck[];
  msgs_per_sec?: number;
  cpu_seconds_per_million_msgs?: number;
  peak_rss_mb?: number;
  ratio_vs_peer?: number;
}

function httpCode(url: string): number {
  try {
    // curl follows the machine's proxy settings the same way Maven's downloads here do.
    const out = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '20', url], {
      encoding: 'utf8',
    });
    return Number(out.trim());
  } catch {
    return 0;
  }
}

export function probePeer(): PeerResult {
  const evidence: UrlCheck[] = [];
  for (const g of GROUPS) {
    evidence.push({ url: `${CENTRAL}/${g}/${ARTIFACT}/maven-metadata.xml`, http: 0 });
    if (g === 'org/apache/doris') {
      for (const v of VERSIONS)
        evidence.push({ url: `${CENTRAL}/${g}/${ARTIFACT}/${v}/${ARTIFACT}-${v}.jar`, http: 0 });
    }
  }
  for (const e of evidence) e.http = httpCode(e.url);
  const controls = CONTROLS.map((url) => ({ url, http: httpCode(url) }));
  const found = evidence.find((e) => e.http === 200 && e.url.endsWith('.jar'));
  return {
    connector: 'org.apache.doris:doris-kafka-connector on Kafka Connect standalone',
    available: found !== undefined,
    ...(found
      ? {}
      : {
          reason:
            "Maven Central (through this machine's proxy) answers 404 for every doris-kafka-connector metadata file and jar tried, " +
            'while control artifacts of the same repository (and of the same org.apache.doris group) answer 200; ' +
            'building it from fetched source is out of bounds, so the peer was not run.',
        }),
    checked_at: new Date().toISOString(),
    evidence,
    controls,
  };
}
