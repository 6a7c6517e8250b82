#!/usr/bin/env node
import { Command } from 'commander';

const program = new Command('pipe-viewer').description('skeleton: filled in by its issue');
program.parse();
