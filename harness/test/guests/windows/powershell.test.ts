import t from 'tap';
import { decodeCommand, encodedCommand, psScript } from '../../../src/guests/windows/powershell';

t.test('scripts travel as -EncodedCommand (UTF-16LE base64) and decode back', async (t) => {
  const script = psScript('diskspd', { args: ['-b4096', '#1'] }, '& diskspd.exe @($p.args)');
  const line = encodedCommand(script);
  t.match(line, /^powershell\.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand [A-Za-z0-9+/=]+$/);
  t.equal(decodeCommand(line), script);
  t.equal(decodeCommand('cmd /c dir'), undefined);
});

t.test('a hostile scenario value stays data: it is one JSON string inside one single-quoted literal', async (t) => {
  const hostile = `x'; Remove-Item -Recurse C:\\ ; '$(calc)\u2019; "\`n`;
  const script = psScript('mkdir', { dirs: [hostile] }, 'foreach ($d in $p.dirs) { New-Item -ItemType Directory -Force -Path $d | Out-Null }');
  const line = script.split('\n').find((l) => l.startsWith('$p = '))!;
  const m = /^\$p = ConvertFrom-Json '((?:[^'\u2018\u2019\u201a\u201b]|''|\u2019\u2019)*)'$/.exec(line);
  t.ok(m, 'the parameter line is exactly one single-quoted literal (every quote inside is doubled)');
  const json = m![1]!.replace(/''/g, "'").replace(/\u2019\u2019/g, '\u2019');
  t.same(JSON.parse(json), { dirs: [hostile] }, 'PowerShell un-doubles the quotes and gets the value back unchanged');
  t.notMatch(script.split('\n').filter((l) => !l.startsWith('$p = ')).join('\n'), /Remove-Item/, 'the value appears nowhere else in the script');
});
