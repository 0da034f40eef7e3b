// Reply bodies, byte for byte as Doris writes them (doris-stream-load.md §1.2, §3, §5):
// the BE load reply (rapidjson PrettyWriter: 4-space indent, `"Key": value`, trailing "\n"), the 2PC
// reply (lower-case keys, no trailing newline), and the FE's two compact error shapes.
import type { Profile } from './profile.ts';

export type LoadStatus = 'Success' | 'Publish Timeout' | 'Label Already Exists' | 'Fail';

export interface LoadReply {
  txnId: number;
  label: string;
  comment: string;
  twoPhaseCommit: boolean;
  groupCommit: boolean;
  status: LoadStatus;
  existingJobStatus?: 'RUNNING' | 'PRECOMMITTED' | 'FINISHED' | undefined;
  message: string;
  totalRows: number;
  loadedRows: number;
  filteredRows: number;
  unselectedRows: number;
  loadBytes: number;
  loadTimeMs: number;
  beginTxnTimeMs: number;
  streamLoadPutTimeMs: number;
  readDataTimeMs: number;
  writeDataTimeMs: number;
  receiveDataTimeMs: number;
  commitAndPublishTimeMs: number;
  errorUrl?: string | undefined;
  firstErrorMsg?: string | undefined;
}

/** A reply for a load that never got a transaction (header errors, Label Already Exists). */
export function emptyReply(label: string, comment: string, status: LoadStatus, message: string): LoadReply {
  return {
    txnId: -1,
    label,
    comment,
    twoPhaseCommit: false,
    groupCommit: false,
    status,
    message,
    totalRows: 0,
    loadedRows: 0,
    filteredRows: 0,
    unselectedRows: 0,
    loadBytes: 0,
    loadTimeMs: 0,
    beginTxnTimeMs: 0,
    streamLoadPutTimeMs: 0,
    readDataTimeMs: 0,
    writeDataTimeMs: 0,
    receiveDataTimeMs: 0,
    commitAndPublishTimeMs: 0,
  };
}

/** The load reply object with §3's keys in emitted order for the profile. */
export function loadReplyObject(r: LoadReply, p: Profile): Record<string, unknown> {
  const o: Record<string, unknown> = { TxnId: r.txnId, Label: r.label };
  if (p.commentKey) o.Comment = r.comment;
  if (r.groupCommit) o.GroupCommit = true;
  else o.TwoPhaseCommit = r.twoPhaseCommit ? 'true' : 'false';
  o.Status = r.status;
  if (r.status === 'Label Already Exists') o.ExistingJobStatus = r.existingJobStatus ?? 'RUNNING';
  o.Message = r.message;
  o.NumberTotalRows = r.totalRows;
  o.NumberLoadedRows = r.loadedRows;
  o.NumberFilteredRows = r.filteredRows;
  o.NumberUnselectedRows = r.unselectedRows;
  o.LoadBytes = r.loadBytes;
  o.LoadTimeMs = r.loadTimeMs;
  if (!r.groupCommit) o.BeginTxnTimeMs = r.beginTxnTimeMs;
  o.StreamLoadPutTimeMs = r.streamLoadPutTimeMs;
  o.ReadDataTimeMs = r.readDataTimeMs;
  o.WriteDataTimeMs = r.writeDataTimeMs;
  if (p.receiveDataTimeKey) o.ReceiveDataTimeMs = r.receiveDataTimeMs;
  if (!r.groupCommit) o.CommitAndPublishTimeMs = r.commitAndPublishTimeMs;
  if (r.errorUrl) o.ErrorURL = r.errorUrl;
  if (p.firstErrorMsgKey && r.firstErrorMsg) o.FirstErrorMsg = r.firstErrorMsg;
  return o;
}

export function loadReplyBody(r: LoadReply, p: Profile): string {
  return `${JSON.stringify(loadReplyObject(r, p), null, 4)}\n`;
}

/** `/_stream_load_2pc` reply: `{"status": …, "msg": …}` pretty-printed, no trailing newline. */
export function twoPcBody(status: string, msg: string): string {
  return JSON.stringify({ status, msg }, null, 4);
}

/** FE `RestBaseResult`: `{"status":"FAILED","msg":"…"}`. */
export function restBaseResult(msg: string, status: 'OK' | 'FAILED' = 'FAILED'): string {
  return JSON.stringify({ status, msg });
}

/** FE `ResponseBody`: `{"msg":…,"code":…,"data":…,"count":0}`. */
export function responseBody(msg: string, code: number, data: unknown): string {
  return JSON.stringify({ msg, code, data, count: 0 });
}
