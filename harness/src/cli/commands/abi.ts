// winpv abi: not built yet (issue #5). The command exists so that the CLI's shape is fixed.
import type { Command } from '../command';
import { infraError } from '../../model/errors';

const command: Command = {
  name: 'abi',
  summary: '',
  help: 'usage: winpv abi ...\n\n(not implemented yet: issue #5)\n',
  async run(ctx) {
    if (ctx.argv.includes('--help') || ctx.argv.includes('-h')) {
      ctx.out.write(this.help);
      return 0;
    }
    throw infraError('NOT_IMPLEMENTED', 'winpv abi is not implemented yet (issue #5)');
  },
};
export default command;
