// The frontends' fault switches of a simulated Windows guest (sim/windows/device-faults.ts): one
// device's switches stay on that device; the guest-wide ones ('*') reach every device.
import t from 'tap';
import { DeviceFaults } from '../../src/sim/windows/device-faults';

t.test('a device\'s switch is on for that device only', async (t) => {
  const f = new DeviceFaults();
  f.switches('vbd/51712').grantLeak = true;
  t.equal(f.effective('vbd/51712').grantLeak, true);
  t.equal(f.effective('vif/0').grantLeak, false, 'another device is not touched');
});

t.test('a guest-wide switch reaches every device, merged with each device\'s own', async (t) => {
  const f = new DeviceFaults();
  f.switches('*').skipState = true;
  f.switches('*').maxTxRetries = 4;
  f.switches('vif/0').wrongProtocol = true;
  f.switches('vif/0').maxTxRetries = 8;
  t.match(f.effective('vbd/51712'), { skipState: true, wrongProtocol: false, maxTxRetries: 4 });
  t.match(f.effective('vif/0'), { skipState: true, wrongProtocol: true, maxTxRetries: 4 }, 'the shorter retry limit wins');
  f.switches('*').skipState = false;
  t.equal(f.effective('vif/0').skipState, false, 'switched off again: off everywhere');
});
