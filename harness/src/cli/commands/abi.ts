// winpv abi [--json]: the ring, grant and xenstore wire layouts the simulator uses, keyed by the
// names in Xen's public headers (the ABI test checks them against libxen-dev with gcc).
import type { Command } from '../command';
import { parseCommandArgs } from '../command';
import { abiTable, renderAbiTable } from '../../abi/table';

const command: Command = {
  name: 'abi',
  summary: 'print the ring, grant and xenstore wire layouts the simulator uses',
  help: [
    'usage: winpv abi [--json]',
    '',
    'Prints every layout the simulator uses: struct sizes and field offsets (blkif_request,',
    'blkif_response, netif_tx_request, netif_rx_response, grant_entry_v1, xsd_sockmsg, ...),',
    'entries per shared ring for ring-page-order 0..4, and the protocol constants, each with',
    'the Xen public header it comes from.',
    '',
    'options:',
    '  --json   machine-readable output',
  ].join('\n'),
  async run(ctx) {
    const args = parseCommandArgs(ctx, this, { json: { type: 'boolean' } });
    if (!args) return 0;
    const t = abiTable();
    ctx.out.write(args.values.json ? JSON.stringify(t, null, 2) + '\n' : renderAbiTable(t));
    return 0;
  },
};
export default command;
