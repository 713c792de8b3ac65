// winpv spec: not built yet (issue #3). The command exists so that the CLI's shape is fixed.
import type { Command } from '../command';
import { infraError } from '../../model/errors';

const command: Command = {
  name: 'spec',
  summary: '',
  help: 'usage: winpv spec ...\n\n(not implemented yet: issue #3)\n',
  async run(ctx) {
    if (ctx.argv.includes('--help') || ctx.argv.includes('-h')) {
      ctx.out.write(this.help);
      return 0;
    }
    throw infraError('NOT_IMPLEMENTED', 'winpv spec is not implemented yet (issue #3)');
  },
};
export default command;
