"""The append-only audit log: who did what, to which object, when, from where, and with what
outcome. Services record events with ``marketplace.audit.log.record``; platform admins search
the log and an organization's owners read their organization's part (``search``)."""
