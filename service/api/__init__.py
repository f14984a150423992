"""The GraphQL API for partner apps and programme staff (Strawberry on Starlette).

Split by concern: `context` and `view` (authentication, one session per operation),
`permissions`, `ids`, `pagination`, `errors`, `loaders`, the types in `types/`,
`queries`, `mutations/` and `subscriptions`, merged in `schema`.
"""
