#!/usr/bin/env node
// The `sfb` executable (package.json "bin"; /usr/local/bin/sfb in the image). Everything is in main.ts.
import { main } from './main.ts'

main({ argv: process.argv.slice(2), env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })
  .then(code => { process.exitCode = code })
