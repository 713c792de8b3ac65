import t from 'tap';
import { XsDecoder, XsType, encodeMessage, encodePacket, splitStrings, countStrings, parseErrorPayload, errorPayload, XENSTORE_PAYLOAD_MAX, XS_ERRNO, typeName } from '../../src/xenstore/codec';

t.test('header layout: four little-endian u32 then the payload', async (t) => {
  const b = encodePacket(XsType.WRITE, 0x01020304, 7, 'a\0b');
  t.same([...b.subarray(0, 16)], [11, 0, 0, 0, 4, 3, 2, 1, 7, 0, 0, 0, 3, 0, 0, 0]);
  t.equal(b.subarray(16).toString('latin1'), 'a\0b');
});

t.test('a string payload is UTF-8 in the packet, its length in bytes, as the Buffer form encodes it', async (t) => {
  const text = '/local/domain/1/é\0tök\0';
  const fromString = encodePacket(XsType.WATCH_EVENT, 0, 0, text);
  t.same(fromString, encodeMessage({ type: XsType.WATCH_EVENT, reqId: 0, txId: 0, payload: Buffer.from(text, 'utf8') }));
  t.equal(fromString.readUInt32LE(12), Buffer.byteLength(text, 'utf8'), 'length in bytes, not characters');
  t.throws(() => encodePacket(XsType.WRITE, 1, 0, 'x'.repeat(XENSTORE_PAYLOAD_MAX + 1)), RangeError);
});

t.test('type numbers are those of xs_wire.h', async (t) => {
  t.equal(XsType.DIRECTORY_PART, 22);
  t.equal(XsType.RESET_WATCHES, 21);
  t.equal(XsType.WATCH_EVENT, 15);
  t.equal(XsType.ERROR, 16);
  t.equal(typeName(6), 'TRANSACTION_START');
  t.equal(XS_ERRNO.EAGAIN, 11);
});

t.test('the decoder handles packets split at every byte and coalesced', async (t) => {
  const a = encodePacket(XsType.READ, 1, 0, '/a\0');
  const b = encodePacket(XsType.WRITE, 2, 3, '/b\0value');
  const c = encodePacket(XsType.DIRECTORY, 3, 0, '');
  const all = Buffer.concat([a, b, c]);
  for (let cut = 1; cut < all.length; cut++) {
    const d = new XsDecoder();
    const got = [...d.push(all.subarray(0, cut)).messages, ...d.push(all.subarray(cut)).messages];
    t.same(got.map((m) => [m.type, m.reqId, m.txId, m.payload.toString('latin1')]), [
      [2, 1, 0, '/a\0'],
      [11, 2, 3, '/b\0value'],
      [1, 3, 0, ''],
    ], `cut at ${cut}`);
    t.equal(d.buffered, 0);
  }
  const d = new XsDecoder();
  let n = 0;
  for (const byte of all) n += d.push(Buffer.from([byte])).messages.length;
  t.equal(n, 3, 'one byte at a time');
});

t.test('a header announcing more than XENSTORE_PAYLOAD_MAX breaks the stream', async (t) => {
  const d = new XsDecoder();
  const ok = encodePacket(XsType.READ, 1, 0, '/a\0');
  const bad = Buffer.alloc(16);
  bad.writeUInt32LE(XsType.WRITE, 0);
  bad.writeUInt32LE(XENSTORE_PAYLOAD_MAX + 1, 12);
  const r = d.push(Buffer.concat([ok, bad]));
  t.equal(r.messages.length, 1, 'the packet before it still counts');
  t.same(r.oversize, { type: XsType.WRITE, len: 4097 });
  t.ok(d.push(ok).oversize, 'and stays broken');
  const edge = new XsDecoder().push(encodeMessage({ type: 11, reqId: 1, txId: 0, payload: Buffer.alloc(XENSTORE_PAYLOAD_MAX) }));
  t.equal(edge.messages.length, 1, 'exactly 4096 is allowed');
  t.throws(() => encodeMessage({ type: 11, reqId: 1, txId: 0, payload: Buffer.alloc(4097) }), /XENSTORE_PAYLOAD_MAX/);
});

t.test('string helpers', async (t) => {
  t.same(splitStrings(Buffer.from('a\0b\0')), ['a', 'b']);
  t.same(splitStrings(Buffer.from('p\0val')), ['p', 'val']);
  t.same(splitStrings(Buffer.alloc(0)), []);
  t.equal(countStrings(Buffer.from('a\0b\0c')), 2);
  t.equal(parseErrorPayload(errorPayload('ENOENT')), 'ENOENT');
  t.equal(errorPayload('EINVAL').toString('latin1'), 'EINVAL\0');
});
