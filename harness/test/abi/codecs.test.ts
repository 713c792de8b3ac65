// Codecs and ring arithmetic: byte-exact encodings, free-running indices, notify and final checks.
import t from 'tap';
import * as blk from '../../src/abi/blkif';
import * as net from '../../src/abi/netif';
import { decodeGrantEntry, encodeGrantEntry, GTF_permit_access, GTF_readonly } from '../../src/abi/grant-table';
import { decodeSockmsg, encodeSockmsg } from '../../src/abi/xs-wire';
import { BackRing, FrontRing, SharedRing, ringEntries } from '../../src/abi/ring';

t.test('blkif request bytes', async (t) => {
  const b = Buffer.alloc(112, 0xee);
  blk.encodeBlkifRequest(b, 0, { operation: 1, handle: 0x1234, id: 0x0102030405, sector: 2 ** 40 + 7, segments: [{ gref: 0xdeadbeef, firstSect: 1, lastSect: 7 }] });
  t.equal(b.toString('hex', 0, 32), '01013412000000000504030201000000070000000001000' + '0efbeadde01070000');
  t.same(blk.decodeBlkifRequest(b, 0), { operation: 1, handle: 0x1234, id: 0x0102030405, sector: 2 ** 40 + 7, segments: [{ gref: 0xdeadbeef, firstSect: 1, lastSect: 7 }] });
  t.ok(b.subarray(32).every((x) => x === 0), 'rest of the slot zeroed');
  blk.encodeBlkifRequest(b, 0, { operation: 6, indirectOp: 0, handle: 5, id: 9, sector: 3, nrSegments: 600, indirectGrefs: [100, 101] });
  t.equal(b.readUInt16LE(2), 600);
  t.equal(b.readUInt16LE(24), 5);
  t.equal(b.readUInt32LE(32), 101);
  t.same(blk.decodeBlkifRequest(b, 0), { operation: 6, indirectOp: 0, handle: 5, id: 9, sector: 3, nrSegments: 600, indirectGrefs: [100, 101] });
  blk.encodeBlkifRequest(b, 0, { operation: 5, handle: 1, id: 2, sector: 3, nrSectors: 4096, secure: true });
  t.equal(b[1], 1);
  t.equal(b.readUInt32LE(24), 4096);
  t.throws(() => blk.encodeBlkifRequest(b, 0, { operation: 0, handle: 0, id: 1, sector: 0, segments: new Array(12).fill({ gref: 1, firstSect: 0, lastSect: 7 }) }));
  t.throws(() => blk.encodeBlkifRequest(b, 0, { operation: 0, handle: 0, id: -1, sector: 0, segments: [] }));
});

t.test('blkif response, netif, grant and xs header bytes', async (t) => {
  const b = Buffer.alloc(16);
  blk.encodeBlkifResponse(b, 0, { id: 77, operation: 3, status: -2 });
  t.equal(b.toString('hex'), '4d000000000000000300feff00000000');
  t.same(blk.decodeBlkifResponse(b, 0), { id: 77, operation: 3, status: -2 });
  const n = Buffer.alloc(16);
  net.encodeTxRequest(n, 0, { gref: 8, offset: 2, flags: net.NETTXF_more_data, id: 3, size: 1514 });
  t.equal(n.toString('hex', 0, 12), '080000000200040003 00ea05'.replace(' ', ''));
  t.same(net.decodeTxRequest(n, 0), { gref: 8, offset: 2, flags: 4, id: 3, size: 1514 });
  net.encodeRxResponse(n, 0, { id: 1, offset: 0, flags: net.NETRXF_more_data, status: 60 });
  t.same(net.decodeRxResponse(n, 0), { id: 1, offset: 0, flags: 4, status: 60 });
  net.encodeExtraInfo(n, 0, net.gsoExtra(1448, net.XEN_NETIF_GSO_TYPE_TCPV4));
  t.equal(n.toString('hex', 0, 8), '0100a805' + '01000000');
  const g = Buffer.alloc(8);
  encodeGrantEntry(g, 0, { flags: GTF_permit_access | GTF_readonly, domid: 0, frame: 0x12345 });
  t.equal(g.toString('hex'), '0500000045230100');
  t.same(decodeGrantEntry(g, 0), { flags: 5, domid: 0, frame: 0x12345 });
  const h = Buffer.alloc(16);
  encodeSockmsg(h, 0, { type: 2, reqId: 7, txId: 0, len: 5 });
  t.same(decodeSockmsg(h, 0), { type: 2, reqId: 7, txId: 0, len: 5 });
});

t.test('ring sizes per order', async (t) => {
  t.same([0, 1, 2, 3, 4].map((o) => ringEntries(112, o)), [32, 64, 128, 256, 512]);
  t.same([ringEntries(12, 0), ringEntries(8, 0)], [256, 256]);
});

t.test('free-running indices wrap, push-with-notify and final check', async (t) => {
  const mem = Buffer.alloc(4096);
  const s = new SharedRing(mem, 112);
  s.init();
  t.same([s.reqProd, s.reqEvent, s.rspProd, s.rspEvent], [0, 1, 0, 1]);
  const front = new FrontRing(s);
  const back = new BackRing(s);
  // Start near the u32 wrap to exercise it.
  const start = 0xfffffff0;
  s.reqProd = s.rspProd = start;
  s.reqEvent = s.rspEvent = start + 1;
  front.reqProdPvt = front.rspCons = start;
  back.rspProdPvt = back.reqCons = start;
  for (let i = 0; i < 32; i++) front.reqProdPvt = (front.reqProdPvt + 1) >>> 0;
  t.ok(front.full(), 'ring full after nr_ents requests across the wrap');
  t.ok(front.pushRequests(), 'first push notifies (req_event = old + 1)');
  t.equal(s.reqProd, 0x10);
  t.equal(back.unconsumedRequests(), 32);
  back.reqCons = s.reqProd;
  t.notOk(back.finalCheckForRequests(), 'nothing more');
  t.equal(s.reqEvent, 0x11, 'req_event re-armed to req_cons + 1 across the wrap');
  back.rspProdPvt = (back.rspProdPvt + 32) >>> 0;
  t.ok(back.pushResponses());
  t.equal(front.unconsumedResponses(), 32);
  front.rspCons = s.rspProd;
  // Without the final check rsp_event stays behind and a later push does not notify.
  back.rspProdPvt = (back.rspProdPvt + 1) >>> 0;
  t.notOk(back.pushResponses(), 'no notify when the frontend did not re-arm rsp_event');
  t.ok(front.finalCheckForResponses(), 'final check sees the response that came without a notify');
  t.ok(back.requestProdOverflow((s.reqProd + 40) >>> 0), 'overrun detected');
  t.throws(() => new SharedRing(Buffer.alloc(100), 8));
});
