/**
 * Import-cycle check for src/ node/ kernels/ web/, run by `npm run check:cycles` (part of `npm test`) on the
 * JavaScript tsc emits: dependency-cruiser cannot parse TypeScript 7 itself, and the emitted imports are exactly
 * the runtime ones (type-only imports are erased, so they cannot make a cycle at run time either).
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle: split the shared piece into its own module (see CONTRIBUTING.md).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
  },
};
