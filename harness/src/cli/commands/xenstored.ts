// winpv xenstored: not built yet (issue #4). The command exists so that the CLI's shape is fixed.
import type { Command } from '../command';
import { infraError } from '../../model/errors';

const command: Command = {
  name: 'xenstored',
  summary: '',
  help: 'usage: winpv xenstored ...\n\n(not implemented yet: issue #4)\n',
  async run(ctx) {
    if (ctx.argv.includes('--help') || ctx.argv.includes('-h')) {
      ctx.out.write(this.help);
      return 0;
    }
    throw infraError('NOT_IMPLEMENTED', 'winpv xenstored is not implemented yet (issue #4)');
  },
};
export default command;
