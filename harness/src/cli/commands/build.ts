// winpv build: not built yet (issue #9). The command exists so that the CLI's shape is fixed.
import type { Command } from '../command';
import { infraError } from '../../model/errors';

const command: Command = {
  name: 'build',
  summary: '',
  help: 'usage: winpv build ...\n\n(not implemented yet: issue #9)\n',
  async run(ctx) {
    if (ctx.argv.includes('--help') || ctx.argv.includes('-h')) {
      ctx.out.write(this.help);
      return 0;
    }
    throw infraError('NOT_IMPLEMENTED', 'winpv build is not implemented yet (issue #9)');
  },
};
export default command;
