#!/usr/bin/env node
import { Command } from 'commander';

const program = new Command('pipe-reaper').description('skeleton: filled in by its issue');
program.parse();
