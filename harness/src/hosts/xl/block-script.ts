// The block hotplug script the xl host gives its disks. Every disk is a loop device the host set up
// (devices.ts makeDisk/imageLoop), and for such a `phy` device /etc/xen/scripts/block only records
// it (block: case phy, write_dev in block-common.sh: physical-device as hex major:minor,
// physical-device-path, then hotplug-status connected). Its locking and sharing checks around that
// ran past libxl's fixed 10 s hotplug timeout (libxl_aoutils.c async_exec_timeout, "killing execution
// of /etc/xen/scripts/block add") on the lab under a loaded machine, failing `xl create`; this script
// writes the same keys, the same way, and nothing else. `remove` has nothing to undo for a phy device.
import { RUN_DIR } from './host-state';

export const BLOCK_SCRIPT_PATH = `${RUN_DIR}/block-phy`;

export const BLOCK_SCRIPT = [
  '#!/bin/sh',
  '# winpv: the phy part of /etc/xen/scripts/block (write_dev, success) for the loop devices winpv sets up',
  '[ "$1" = add ] || exit 0',
  'p=$(xenstore-read "$XENBUS_PATH/params") || exit 1',
  'mm=$(stat -L -c %t:%T "$p") || { xenstore-write "$XENBUS_PATH/hotplug-error" "$p is not a block device" "$XENBUS_PATH/hotplug-status" error; exit 1; }',
  'xenstore-write "$XENBUS_PATH/physical-device" "$mm" "$XENBUS_PATH/physical-device-path" "$p"',
  'xenstore-write "$XENBUS_PATH/hotplug-status" connected',
  '',
].join('\n');

/** The vif hotplug script: what /etc/xen/scripts/vif-bridge does for a vif on a bridge (vif-bridge:
 *  online/add: the netdev joined to the bridge named by the backend's `bridge` key and brought up,
 *  then success: hotplug-status connected; offline: the netdev leaves the bridge), without
 *  vif-common.sh's iptables and locking, which ran past libxl's 10 s hotplug timeout on the loaded
 *  lab ("killing execution of /etc/xen/scripts/vif-bridge offline because of timeout"). libxl passes
 *  the action as $1 and the netdev in $vif, the backend path in $XENBUS_PATH (relative to dom0's home). */
export const VIF_SCRIPT_PATH = `${RUN_DIR}/vif-bridge-light`;

export const VIF_SCRIPT = [
  '#!/bin/sh',
  '# winpv: the bridge part of /etc/xen/scripts/vif-bridge for the lab guests\' vifs',
  'case "$1" in',
  '  online|add)',
  '    br=$(xenstore-read "$XENBUS_PATH/bridge") || exit 1',
  '    ip link set dev "$vif" master "$br" && ip link set dev "$vif" up || exit 1',
  '    xenstore-write "$XENBUS_PATH/hotplug-status" connected ;;',
  '  offline|remove)',
  '    ip link set dev "$vif" nomaster 2>/dev/null; ip link set dev "$vif" down 2>/dev/null; true ;;',
  'esac',
  '',
].join('\n');
