#!/usr/bin/env node
import { Command } from 'commander';

const program = new Command('pipe-producer').description('skeleton: filled in by its issue');
program.parse();
