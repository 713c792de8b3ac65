// winpv xapi: not built yet (issue #8). The command exists so that the CLI's shape is fixed.
import type { Command } from '../command';
import { infraError } from '../../model/errors';

const command: Command = {
  name: 'xapi',
  summary: '',
  help: 'usage: winpv xapi ...\n\n(not implemented yet: issue #8)\n',
  async run(ctx) {
    if (ctx.argv.includes('--help') || ctx.argv.includes('-h')) {
      ctx.out.write(this.help);
      return 0;
    }
    throw infraError('NOT_IMPLEMENTED', 'winpv xapi is not implemented yet (issue #8)');
  },
};
export default command;
