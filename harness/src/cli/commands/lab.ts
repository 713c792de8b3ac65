// winpv lab: not built yet (issue #7). The command exists so that the CLI's shape is fixed.
import type { Command } from '../command';
import { infraError } from '../../model/errors';

const command: Command = {
  name: 'lab',
  summary: '',
  help: 'usage: winpv lab ...\n\n(not implemented yet: issue #7)\n',
  async run(ctx) {
    if (ctx.argv.includes('--help') || ctx.argv.includes('-h')) {
      ctx.out.write(this.help);
      return 0;
    }
    throw infraError('NOT_IMPLEMENTED', 'winpv lab is not implemented yet (issue #7)');
  },
};
export default command;
