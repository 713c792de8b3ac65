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
