from __future__ import annotations

import marshmallow as ma


class MembershipSchema(ma.Schema):
    organization = ma.fields.Function(lambda pair: pair[0].name)
    slug = ma.fields.Function(lambda pair: pair[0].slug)
    role = ma.fields.Function(lambda pair: pair[1].value)


class MeSchema(ma.Schema):
    id = ma.fields.Integer()
    email = ma.fields.Email()
    name = ma.fields.String()
    is_platform_finance = ma.fields.Boolean()
    is_admin = ma.fields.Boolean()
    organizations = ma.fields.List(ma.fields.Nested(MembershipSchema))
