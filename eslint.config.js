import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'packages/*/dist/**', 'coverage/**', '.tap/**', 'node_modules/**', 'helm/**'] }),
  {
    // Domain code does not speak HTTP: it throws DomainError, which src/error-handler.ts maps to a problem.
    // (Which floor may import which is checked by scripts/check-layers.ts.)
    files: ['src/sessions/**', 'src/admin/**', 'src/health/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: '../errors.ts', importNames: ['HttpProblem', 'PROBLEM_CONTENT_TYPE'], message: 'throw DomainError: the HTTP edge (src/error-handler.ts) maps it to application/problem+json' }],
      }],
    },
  },
  {
    // tsc: an inferred Redis<"legacy"> is another type than `Redis`, compared member by member (src/shared-state/redis-client.ts)
    files: ['**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', {
        selector: 'NewExpression[callee.name=/^(Redis|Cluster)$/]:not([typeArguments])',
        message: "name the reply mapping: new Redis<'legacy'>(…) / new Cluster<'legacy'>(…) (an inferred one costs every type check about 4 s)",
      }],
    },
  },
]
