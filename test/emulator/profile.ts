// Version profiles: the facts that differ between Doris release lines (doris-stream-load.md §1.5, §2, §3, §8).
// Where the exact release that first shipped a master change is UNVERIFIED, the profile follows the date
// of the change; each field says which behaviour it switches.

export type ProfileName = '1.2' | '2.0' | '2.1' | '3.0' | '4.0';
export const PROFILE_NAMES: readonly ProfileName[] = ['1.2', '2.0', '2.1', '3.0', '4.0'];

export interface Profile {
  name: ProfileName;
  /** `[CODE]` prefix on BE messages (since Dec 2022). 1.2 prints the raw text. */
  codePrefix: boolean;
  /** `Comment` key in the load reply (since 2023-02). */
  commentKey: boolean;
  /** `ReceiveDataTimeMs` key (master 2024-09). */
  receiveDataTimeKey: boolean;
  /** `FirstErrorMsg` key (master 2025-09). */
  firstErrorMsgKey: boolean;
  /** `read_json_by_line` assumed when neither it nor `strip_outer_array` is sent (master 2025-09). */
  readJsonByLineDefault: boolean;
  /** JSON + compress_type accepted (master 2025-03); older: `compress data of JSON format is not supported.` */
  jsonCompress: boolean;
  /** Type spelling of DESCRIBE (§8). */
  typeSpelling: 'v1' | 'upper' | 'lower';
  /** Status code name of the filter-ratio failure: INTERNAL_ERROR before 2023-11. */
  filterCode: string;
  /** Status code of the missing-Basic-auth failure: INTERNAL_ERROR before 2024-08. */
  authCode: string;
  /** `, status [VISIBLE].` suffix on Label Already Exists (2024-08). */
  labelStatusSuffix: boolean;
  /** UNIQUE tables default to merge-on-write (value columns show NONE instead of REPLACE). */
  uniqueMowDefault: boolean;
  /** BE streaming_load_max_mb default: 102400 since 2024-09, 10240 before. */
  streamingLoadMaxMb: number;
  /**
   * Body-size refusals as EXCEEDED_LIMIT ([E-217]) with the `exceed BE's conf …` texts (current
   * master); older BEs answered INTERNAL_ERROR `The size of this batch exceed …` / `body exceed max
   * size: M, data: N`. The release that switched is UNVERIFIED; the 2.1-era source has the old texts.
   */
  exceededLimitTexts: boolean;
}

const BASE: Profile = {
  name: '3.0',
  codePrefix: true,
  commentKey: true,
  receiveDataTimeKey: true,
  firstErrorMsgKey: false,
  readJsonByLineDefault: false,
  jsonCompress: true,
  typeSpelling: 'lower',
  filterCode: 'DATA_QUALITY_ERROR',
  authCode: 'NOT_AUTHORIZED',
  labelStatusSuffix: true,
  uniqueMowDefault: true,
  streamingLoadMaxMb: 102400,
  exceededLimitTexts: true,
};

const PROFILES: Record<ProfileName, Profile> = {
  '1.2': {
    ...BASE,
    name: '1.2',
    codePrefix: false,
    commentKey: false,
    receiveDataTimeKey: false,
    jsonCompress: false,
    typeSpelling: 'v1',
    filterCode: 'INTERNAL_ERROR',
    authCode: 'INTERNAL_ERROR',
    labelStatusSuffix: false,
    uniqueMowDefault: false,
    streamingLoadMaxMb: 10240,
    exceededLimitTexts: false,
  },
  '2.0': {
    ...BASE,
    name: '2.0',
    receiveDataTimeKey: false,
    jsonCompress: false,
    typeSpelling: 'upper',
    filterCode: 'INTERNAL_ERROR',
    authCode: 'INTERNAL_ERROR',
    labelStatusSuffix: false,
    uniqueMowDefault: false,
    streamingLoadMaxMb: 10240,
    exceededLimitTexts: false,
  },
  '2.1': { ...BASE, name: '2.1', jsonCompress: false, typeSpelling: 'upper', exceededLimitTexts: false },
  '3.0': BASE,
  '4.0': { ...BASE, name: '4.0', firstErrorMsgKey: true, readJsonByLineDefault: true },
};

export function getProfile(name: string): Profile {
  const p = PROFILES[name as ProfileName];
  if (!p) throw new Error(`unknown profile ${JSON.stringify(name)}: expected one of ${PROFILE_NAMES.join(', ')}`);
  return p;
}

/** A BE-side message: `[CODE]detail`, or the raw detail on 1.2. */
export function beMessage(p: Profile, code: string, detail: string): string {
  return p.codePrefix ? `[${code}]${detail}` : detail;
}

/** A message that came from the FE over thrift: `[CODE]TStatus: errCode = N, detailMessage = …`. */
export function feMessage(p: Profile, code: string, detail: string, errCode = 2): string {
  const inner = `errCode = ${errCode}, detailMessage = ${detail}`;
  return p.codePrefix ? `[${code}]TStatus: ${inner}` : inner;
}
