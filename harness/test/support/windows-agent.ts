// A Windows agent on a guest double over real SSH, for the agent's own tests.
import type { Test } from 'tap';
import { WindowsAgent, type WindowsGuestLink } from '../../src/guests/windows/agent';
import { SshConnection } from '../../src/remote/ssh';
import { Secret } from '../../src/model/secret';
import { startWindowsDouble, type WindowsDouble, type WindowsFlavour } from './windows-double';

export interface AgentOnDouble {
  d: WindowsDouble;
  agent: WindowsAgent;
  /** What the agent logged. */
  logs: string[];
  /** The agent's SSH connection (after its first command). */
  conn(): SshConnection | undefined;
}

/** Starts a double, and an agent reaching it with `password`; both go at the end of the test. */
export async function agentOnDouble(t: Test, password: string, link: Partial<WindowsGuestLink> = {}, flavour: WindowsFlavour = {}): Promise<AgentOnDouble> {
  const d = await startWindowsDouble({ name: 'w', host: '127.0.0.1', user: 'Administrator', password, ...flavour });
  t.teardown(() => d.close());
  let conn: SshConnection | undefined;
  const logs: string[] = [];
  const agent = new WindowsAgent({
    name: 'w',
    connect: async () => (conn ??= await SshConnection.connect({ host: d.host, port: d.port, user: 'Administrator', password: new Secret(password), hostKeySha256: d.hostKeyFingerprint })),
    address: async () => d.host,
    log: (_l, msg) => logs.push(msg),
    ...link,
  });
  t.teardown(() => conn?.close());
  return { d, agent, logs, conn: () => conn };
}
