// XAPI's HTTP handler PUT /import_raw_vdi?session_id=..&vdi=..&format=raw[&task_id=..]: the body's
// bytes are written into the VDI. A request without a valid session gets 401 and touches nothing;
// every other failure fails the task (error_info, as XAPI reports it) and answers 500. An ISO SR's
// VDI is a file on its filesystem, so a body beyond the SR's free space fails with VDI_IO_ERROR, as
// sparse_dd does on ENOSPC.
import type { ServerResponse } from 'node:http';
import { XapiFailure, type FakePool } from './pool';

export function importRawVdi(pool: FakePool, q: URLSearchParams, body: Buffer, res: ServerResponse): void {
  const session = q.get('session_id') ?? '';
  pool.calls.push({ method: 'HTTP PUT /import_raw_vdi', params: [q.get('vdi') ?? '', q.get('format') ?? '', String(body.length)] });
  if (!pool.sessions.has(session)) {
    res.writeHead(401, { 'content-length': 0 }).end();
    return;
  }
  const taskRef = q.get('task_id') ?? undefined;
  const task = taskRef && pool.objects.get(taskRef)?.cls === 'task' ? taskRef : undefined;
  const finish = (status: number, error?: XapiFailure) => {
    if (task) {
      pool.set(task, error
        ? { status: 'failure', progress: 1, error_info: [error.code, ...error.params], finished: '20261124T06:00:01Z' }
        : { status: 'success', progress: 1, result: '', finished: '20261124T06:00:01Z' });
    }
    res.writeHead(status, { 'content-length': 0 }).end();
  };
  try {
    const refused = pool.refuseImport;
    if (refused && body.length > 0) {
      pool.refuseImport = undefined;
      finish(refused.status, refused.error);
      return;
    }
    const vdiRef = q.get('vdi') ?? '';
    const vdi = pool.get(vdiRef, 'VDI');
    const format = q.get('format') ?? 'raw';
    if (format !== 'raw' && format !== 'vhd') throw new XapiFailure('INTERNAL_ERROR', [`Unknown format: ${format}`]);
    // the code is VDI_READONLY (ocaml/xapi-consts/api_errors.ml: vdi_readonly), params [vdi]
    if (vdi.read_only) throw new XapiFailure('VDI_READONLY', [vdiRef]);
    // a probe with no body (xen-api sends one to look for a redirect) writes nothing
    if (body.length === 0) {
      finish(200);
      return;
    }
    if (body.length > Number(vdi.virtual_size)) throw new XapiFailure('VDI_IO_ERROR', ['Device I/O errors']);
    const sr = pool.get(vdi.SR, 'SR');
    const before = pool.content.get(vdiRef)?.length ?? 0;
    const used = Number(sr.physical_utilisation ?? 0) - before;
    if (sr.content_type === 'iso' && used + body.length > Number(sr.physical_size)) throw new XapiFailure('VDI_IO_ERROR', ['Device I/O errors']);
    pool.content.set(vdiRef, Buffer.from(body));
    if (sr.content_type === 'iso') pool.set(String(vdi.SR), { physical_utilisation: used + body.length });
    pool.set(vdiRef, { physical_utilisation: body.length });
    finish(200);
  } catch (e) {
    finish(500, e instanceof XapiFailure ? e : new XapiFailure('INTERNAL_ERROR', [String(e)]));
  }
}
