import { Type } from '@sinclair/typebox'
import { errorResponses, Id, Timestamp } from '../../src/schemas/common.js'
import { User, UserPage, UserPageQuery } from '../../src/schemas/user.js'

const Session = (message: string) =>
  Type.Object({
    message: Type.String({ examples: [message] }),
    token: Type.String({ description: 'A JWT; send it as `Authorization: Bearer <token>` or `/ws?token=`.' }),
    expires_at: Timestamp(),
    user: User,
  })

export const register = {
  tags: ['users'],
  summary: 'Create an account',
  operationId: 'register',
  description:
    'Creates a user and returns a token, as login does. Email and username are unique, case-insensitively. ' +
    'A password that is easy to guess is refused with 400 `WEAK_PASSWORD`, whose message says why: one of the ' +
    'most common passwords (case-insensitive), one character repeated, only whitespace, or your username or email.',
  body: Type.Object({
    username: Type.String({ minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9_.-]+$' }),
    email: Type.String({ format: 'email', maxLength: 254 }),
    password: Type.String({
      minLength: 8,
      maxLength: 128,
      description: 'Not one of the most common passwords, nor your username or email (400 `WEAK_PASSWORD`).',
    }),
  }),
  response: { 201: Session('User registered successfully'), ...errorResponses(400, 409, 413, 415, 429) },
}

export const login = {
  tags: ['users'],
  summary: 'Log in for a token',
  operationId: 'login',
  description: 'A wrong email and a wrong password get the same 401.',
  body: Type.Object({
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  }),
  response: { 200: Session('Login successful'), ...errorResponses(400, 401, 413, 415, 429) },
}

export const listUsers = {
  tags: ['users'],
  summary: 'List users',
  operationId: 'listUsers',
  description:
    'Users by id, optionally filtered by `q` (a part of the username). Page with `after_id`. `email` is null ' +
    'for everyone but you.',
  security: [{ bearerAuth: [] }],
  querystring: UserPageQuery,
  response: {
    200: UserPage(User),
    ...errorResponses(400, 401),
  },
}

export const getUser = {
  tags: ['users'],
  summary: 'Get a user',
  operationId: 'getUser',
  security: [{ bearerAuth: [] }],
  params: Type.Object({ userID: Id() }),
  response: { 200: User, ...errorResponses(400, 401, 404) },
}
