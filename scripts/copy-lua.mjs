#!/usr/bin/env node
// Copies the Lua scripts next to the compiled JavaScript that loads them.
import { cpSync, statSync } from 'node:fs';
const [from, to] = process.argv.slice(2);
cpSync(from, to, { recursive: true, filter: (src) => statSync(src).isDirectory() || src.endsWith('.lua') });
