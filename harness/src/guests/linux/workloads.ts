// Workloads for the busybox reference guest, as shell scripts: dd for block I/O (O_DIRECT, so every
// block reaches blkfront and the ring), ping and nc for the network. Results come back as
// `@@r key=value` lines. Scripts take only numbers and fixed device names from the step, and every
// number is checked to be an integer before it is written into a script.
import { usageError } from '../../model/errors';
import type { BlockWorkloadStep, NetWorkloadStep } from '../../model/scenario';
import { devidToVdev } from '../../model/vdev';

function int(name: string, v: number, min = 0): number {
  if (!Number.isInteger(v) || v < min) throw usageError(`${name} must be a whole number >= ${min}, not ${v}`);
  return v;
}

/** Linux's name for a Xen vbd devid: blkfront names xvd devices (major 202 and the extended ids)
 *  as the scheme does; emulated hd/sd numbers it renames, so they are refused here. */
export function devidToLinuxDisk(devid: number): string {
  const name = devidToVdev(devid);
  if (!name?.startsWith('xvd')) throw usageError(`vbd ${devid} is not a xvd device the Linux guest names predictably`);
  return name;
}

/** Centiseconds since boot (from /proc/uptime; `1` prefix keeps a leading zero from reading as octal). */
const CS = 'cs() { read u _ < /proc/uptime; echo $(( ${u%.*} * 100 + 1${u#*.} - 100 )); }';

/** Size of the region each thread works on (the reference guest has little memory for patterns). */
const REGION_BYTES = 4 * 1024 * 1024;

export function blockScript(w: BlockWorkloadStep, dev: string): string {
  if (!/^\/dev\/xvd[a-z]+\d*$/.test(dev)) throw usageError(`not a guest block device: ${dev}`);
  const bs = int('blockSize', w.blockSize, 512);
  if (bs % 512) throw usageError(`blockSize must be a multiple of 512 for O_DIRECT, not ${bs}`);
  const threads = int('threads', w.threads, 1);
  const wp = int('writePercent', w.writePercent);
  const durCs = Math.ceil(int('durationMs', w.durationMs) / 10);
  const region = Math.max(1, Math.floor(REGION_BYTES / bs));
  return [
    'set +e',
    CS,
    `dev=${dev}; bs=${bs}; region=${region}; wp=${wp}; threads=${threads}`,
    `verify=${w.verify ? 1 : 0}; random=${w.pattern === 'random' ? 1 : 0}; flush=${w.flush ? 1 : 0}; discard=${w.discard ? 1 : 0}`,
    'total=$(( $(cat /sys/block/${dev#/dev/}/size) * 512 / bs ))',
    '[ $(( region * threads )) -le $total ] || region=$(( total / threads ))',
    'wcount=$(( region * wp / 100 )); rcount=$(( region - wcount ))',
    'sync=; [ $flush = 1 ] && sync=conv=fsync',
    `end=$(( $(cs) + ${durCs} ))`,
    'worker() {',
    '  t=$1; base=$(( t * region )); ios=0; rb=0; wb=0; err=0; verr=0',
    '  [ $wcount -gt 0 ] && dd if=/dev/urandom of=/tmp/pat$t bs=$bs count=$wcount 2>/dev/null',
    // at least one pass, however slow the guest is
    '  while :; do',
    '    if [ $random = 1 ]; then',
    '      i=0; while [ $i -lt 64 ]; do',
    '        o=$(( base + RANDOM % region ))',
    '        if [ $(( RANDOM % 100 )) -lt $wp ]; then dd if=/dev/zero of=$dev bs=$bs count=1 seek=$o oflag=direct $sync 2>/dev/null && wb=$((wb+bs)) || err=$((err+1))',
    '        else dd if=$dev of=/dev/null bs=$bs count=1 skip=$o iflag=direct 2>/dev/null && rb=$((rb+bs)) || err=$((err+1)); fi',
    '        ios=$((ios+1)); i=$((i+1))',
    '      done',
    '    else',
    '      if [ $wcount -gt 0 ]; then',
    '        dd if=/tmp/pat$t of=$dev bs=$bs count=$wcount seek=$base oflag=direct $sync 2>/dev/null && wb=$((wb+wcount*bs)) || err=$((err+1)); ios=$((ios+wcount))',
    '        if [ $verify = 1 ]; then',
    '          dd if=$dev of=/tmp/back$t bs=$bs count=$wcount skip=$base iflag=direct 2>/dev/null && rb=$((rb+wcount*bs)) || err=$((err+1)); ios=$((ios+wcount))',
    '          cmp -s /tmp/pat$t /tmp/back$t || verr=$((verr+1)); rm -f /tmp/back$t',
    '        fi',
    '      fi',
    '      if [ $rcount -gt 0 ]; then',
    '        dd if=$dev of=/dev/null bs=$bs count=$rcount skip=$(( base + wcount )) iflag=direct 2>/dev/null && rb=$((rb+rcount*bs)) || err=$((err+1)); ios=$((ios+rcount))',
    '      fi',
    '    fi',
    '    [ $discard = 1 ] && { blkdiscard -o $(( base * bs )) -l $(( region * bs )) $dev 2>/dev/null || err=$((err+1)); }',
    '    [ $(cs) -lt $end ] || break',
    '  done',
    '  rm -f /tmp/pat$t',
    '  echo "$ios $rb $wb $err $verr" > /tmp/res$t',
    '}',
    't0=$(cs); t=0',
    'while [ $t -lt $threads ]; do worker $t & t=$((t+1)); done',
    'wait; t1=$(cs)',
    'ios=0; rb=0; wb=0; err=0; verr=0',
    // a worker that left no result died: that is an error, not zero I/O
    't=0; while [ $t -lt $threads ]; do if [ -f /tmp/res$t ]; then read a b c d e < /tmp/res$t; ios=$((ios+a)); rb=$((rb+b)); wb=$((wb+c)); err=$((err+d)); verr=$((verr+e)); rm -f /tmp/res$t; else err=$((err+1)); fi; t=$((t+1)); done',
    'echo "@@r ios=$ios readBytes=$rb writeBytes=$wb errors=$err verifyErrors=$verr centis=$((t1-t0))"',
  ].join('\n');
}

/** Guest and dom0 halves of a network workload: the guest pings the peer, then one side streams
 *  zeros through busybox nc for the duration while the other counts them. Both ends use `nc -e`
 *  (the program gets the socket as stdin/stdout): busybox nc otherwise quits when its own stdin ends. */
export function netScript(w: NetWorkloadStep, a: { guestAddress: string; peerAddress: string }, port = 5001): { guest: string; peer: string } {
  for (const ip of [a.guestAddress, a.peerAddress]) if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw usageError(`not an IPv4 address: ${ip}`);
  const secs = Math.max(1, Math.ceil(int('durationMs', w.durationMs) / 1000));
  const send = w.direction !== 'receive';
  const guest = [
    'set +e',
    CS,
    `ip addr add ${a.guestAddress}/24 dev eth0 2>/dev/null; ip link set eth0 up`,
    // three echoes 0.2 s apart (busybox ping's -i takes fractions; the default second apart made this
    // check 2 s of every network step on the lab)
    `ping -c 3 -i 0.2 -W 2 ${a.peerAddress} > /tmp/ping 2>&1; got=$(grep -c "bytes from" /tmp/ping)`,
    'echo "@@r lost=$(( 3 - got ))"',
    // the far end is started over SSH at the same moment: retry a refused connection (a quick
    // failure) until it listens; a stream that ran is never repeated
    'i=0',
    'while :; do',
    '  t0=$(cs)',
    send
      ? `  timeout ${secs} nc ${a.peerAddress} ${port} -e dd if=/dev/zero bs=65536 2>/dev/null`
      : `  rm -f /tmp/nbytes; nc ${a.peerAddress} ${port} -e sh -c 'wc -c > /tmp/nbytes' 2>/dev/null`,
    '  t1=$(cs)',
    '  [ $((t1 - t0)) -gt 50 ] && break',
    // about a minute of retries, 0.2 s apart (the far end listens within a second or two)
    '  i=$((i+1)); [ $i -ge 300 ] && break',
    '  sleep 0.2',
    'done',
    ...(send ? [] : ['echo "@@r bytes=$(cat /tmp/nbytes 2>/dev/null)"']),
    'echo "@@r centis=$((t1-t0))"',
  ].join('\n');
  const peer = send
    ? `f=$(mktemp); timeout ${secs + 60} busybox nc -l -p ${port} -e sh -c 'wc -c > "$0"' "$f"; echo "@@r bytes=$(cat "$f")"; rm -f "$f"`
    : `timeout ${secs + 60} busybox nc -l -p ${port} -e timeout ${secs} dd if=/dev/zero bs=65536; true`;
  return { guest, peer };
}

/** `@@r k=v k=v` lines into numbers (later lines win). */
export function parseResultLines(text: string): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('@@r ')) continue;
    for (const kv of line.slice(4).trim().split(/\s+/)) {
      const m = /^(\w+)=(-?\d+)$/.exec(kv);
      if (m) out[m[1]!] = Number(m[2]);
    }
  }
  return out;
}
