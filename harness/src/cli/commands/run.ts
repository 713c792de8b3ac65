// winpv run: not built yet (issue #6). The command exists so that the CLI's shape is fixed.
import type { Command } from '../command';
import { infraError } from '../../model/errors';

const command: Command = {
  name: 'run',
  summary: '',
  help: 'usage: winpv run ...\n\n(not implemented yet: issue #6)\n',
  async run(ctx) {
    if (ctx.argv.includes('--help') || ctx.argv.includes('-h')) {
      ctx.out.write(this.help);
      return 0;
    }
    throw infraError('NOT_IMPLEMENTED', 'winpv run is not implemented yet (issue #6)');
  },
};
export default command;
