// A local driver bundle handed to a XenAPI guest as a disc: the ISO becomes a VDI of a writable
// ISO SR, goes into the guest's CD drive, and is ejected and destroyed when the bundle is cleaned up.
//
// How the ISO gets into the pool. A CD drive takes only VDIs of an ISO SR: VBD.insert (and a CD
// VBD.create) refuse any other with VDI_IS_NOT_ISO, so a raw VDI in the default (LVM/EXT) SR cannot
// be used. An ISO SR's driver (sm's ISOSR) does implement VDI.create: it makes a file `sm_config.path`
// of `virtual_size` bytes in the SR's directory, which `PUT /import_raw_vdi?format=raw` then fills
// through the pool master, exactly as Xen Orchestra uploads ISOs. That needs nothing but the XenAPI
// session, works for local (legacy_mode directory) and shared (NFS/SMB) ISO SRs alike, and VDI.destroy
// deletes the file again. Copying the file into the SR's directory over dom0 SSH and running SR.scan
// would work only for a local ISO SR on the very host that runs the guest and needs dom0 credentials,
// so it is not offered.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { XapiRecord } from 'xen-api';
import { hostError } from '../../model/errors';
import { toWinpvError, type XapiSession } from './session';
import { tagsFor } from './tags';
import { ignoringGone } from './teardown';

export interface IsoDisc {
  vdi: string;
  name: string;
  remove(): Promise<void>;
}

/** The VDI of ISO `name` in ISO SR `sr` (name or UUID), or in any ISO SR: the disc an `iso:<name>`
 *  bundle goes in from (a CD drive takes only ISO SR VDIs: xapi refuses others with VDI_IS_NOT_ISO). */
export function findIsoVdi(s: XapiSession, name: string, sr?: string): XapiRecord | undefined {
  return s.all('VDI').find((v) => {
    const vsr = s.get(v.SR as string);
    return v.name_label === name && vsr?.content_type === 'iso' && (!sr || vsr.name_label === sr || vsr.uuid === sr);
  });
}

/** The ISO SRs a bundle can be written to: a named one, or any the guest's host reaches that takes
 *  new VDIs (never the XenServer Tools SR, which XAPI rebuilds on updates). */
export function writableIsoSrs(s: XapiSession, o: { named?: string; host?: string }): XapiRecord[] {
  const isos = s.all('SR').filter((sr) => sr.content_type === 'iso');
  if (o.named) return isos.filter((sr) => sr.name_label === o.named || sr.uuid === o.named);
  // shared SRs first: a disc in a local SR pins the guest to its host (pool migrate would refuse)
  return isos.sort((a, b) => Number(b.shared === true) - Number(a.shared === true)).filter((sr) => {
    const oc = (sr.other_config ?? {}) as Record<string, string>;
    if (sr.is_tools_sr === true || oc.xenserver_tools_sr === 'true') return false;
    const ops = sr.allowed_operations as string[] | undefined;
    if (ops && !ops.includes('vdi_create')) return false;
    if (sr.shared === true || !o.host) return true;
    return ((sr.PBDs as string[]) ?? []).some((p) => {
      const pbd = s.get(p);
      return pbd !== undefined && pbd.host === o.host && pbd.currently_attached !== false;
    });
  });
}

/** sm's ISOSR accepts `[a-z0-9.-]+\.(iso|img)` as a file name. */
export const discFileName = (runId: string, owner: string, version: string) => `winpv-${runId}-${owner}-${version}`.replace(/[^A-Za-z0-9.-]+/g, '-').toLowerCase() + '.iso';

/** Uploads the ISO as a new VDI of `sr` and inserts it into the CD drive `cd`; on any failure nothing is left. */
export async function uploadDisc(s: XapiSession, o: { sr: XapiRecord; cd: XapiRecord; isoPath: string; runId: string; owner: string; version: string }): Promise<IsoDisc> {
  const size = (await stat(o.isoPath)).size;
  const name = discFileName(o.runId, o.owner, o.version);
  const vdi = await s.call<string>('VDI.create', {
    name_label: name, name_description: `winpv driver bundle ${o.version} (run ${o.runId})`, SR: o.sr.$ref, virtual_size: size,
    type: 'user', sharable: false, read_only: false, other_config: tagsFor(o.runId, o.owner, new Date()), xenstore_data: {}, sm_config: { path: name }, tags: [],
  });
  const remove = async () => {
    const cd = s.get(o.cd.$ref);
    if (cd && cd.VDI === vdi && cd.empty !== true) await ignoringGone(() => s.callAsync('VBD.eject', cd.$ref));
    await ignoringGone(() => s.callAsync('VDI.destroy', vdi));
  };
  try {
    await putRaw(s, vdi, o.isoPath, size, o.sr);
    const cd = s.get(o.cd.$ref);
    if (cd && cd.empty !== true) await s.callAsync('VBD.eject', cd.$ref);
    await s.callAsync('VBD.insert', o.cd.$ref, vdi);
  } catch (e) {
    await remove().catch(() => undefined);
    throw e;
  }
  return { vdi, name, remove };
}

/** PUT /import_raw_vdi on the pool master (which redirects to a host that sees the SR), bound to a
 *  task of ours: when the transfer fails, the task's error_info says why (VDI_IO_ERROR for a full SR),
 *  which the bare HTTP status does not. The URL carries the session id: no error text keeps it. */
async function putRaw(s: XapiSession, vdi: string, isoPath: string, size: number, sr: XapiRecord): Promise<void> {
  const task = await s.call<string>('task.create', 'winpv bundle ISO upload', `import_raw_vdi into ${String(sr.name_label)}`);
  const body = Object.assign(createReadStream(isoPath), { length: size });
  try {
    await s.client.putResource(body, '/import_raw_vdi', { query: { vdi, format: 'raw' }, task });
  } catch (e) {
    const status = (e as { response?: { statusCode?: number } }).response?.statusCode;
    // the handler fails the task before it answers; a task still pending says nothing more
    const rec = await s.waitFor('the upload task to finish', 10_000, () => {
      const r = s.get(task);
      return r && r.status !== 'pending' ? r : undefined;
    }).catch(() => undefined);
    const info = rec?.status === 'failure' ? ((rec.error_info as string[]) ?? []) : [];
    const code = info[0] ?? (e as { code?: unknown }).code;
    const why = info.length ? `${info[0]}(${info.slice(1).join(', ')})` : status ? `HTTP ${status}` : toWinpvError(e, 'import_raw_vdi', s.hostLabel).message;
    throw hostError(
      typeof code === 'string' && /^[A-Z_0-9]+$/.test(code) ? `XAPI_${code}` : 'XAPI_ISO_UPLOAD',
      `uploading the bundle ISO (${size} bytes) into SR '${String(sr.name_label)}' failed${status && info.length ? ` (HTTP ${status})` : ''}: ${scrub(why)}`,
    );
  } finally {
    body.destroy();
    await s.call('task.destroy', task).catch(() => undefined);
  }
}

/** Drops session ids (query strings, opaque refs after session_id) from a message. */
export const scrub = (msg: string) => msg.replace(/session_id=[^&\s]*/g, 'session_id=***').replace(/\?[^\s]*/g, '');

