"""Spanish for platform administration: the tenants, their usage, and the forms that change them."""

SPANISH = {
    # Navigation and the list
    "Tenants": "Organizaciones",
    "New tenant": "Nueva organización",
    "Every tenant, by name": "Todas las organizaciones, por nombre",
    "Name": "Nombre",
    "Provider": "Proveedor",
    "Status": "Estado",
    "Created": "Creada",
    "Active": "Activa",
    "Suspended": "Suspendida",
    "Sandbox": "Sandbox",
    "Next page": "Página siguiente",
    "No tenants yet.": "Todavía no hay organizaciones.",
    # One tenant
    "The tenant": "La organización",
    "Change the tenant": "Cambiar la organización",
    "Suspend the tenant…": "Suspender la organización…",
    "Reactivate the tenant": "Reactivar la organización",
    "24-hour session window": "Ventana de sesión de 24 horas",
    "Checked": "Comprobada",
    "Not checked": "Sin comprobar",
    "Sends per minute": "Envíos por minuto",
    "Sends per day": "Envíos por día",
    "The gateway's default": "El valor por defecto de la pasarela",
    "Usage": "Uso",
    "Messages today": "Mensajes de hoy",
    "Messages in all": "Mensajes en total",
    "Users": "Usuarios",
    "Senders": "Remitentes",
    "Counted at %(moment)s UTC; today began at 00:00 UTC.": (
        "Contado a las %(moment)s UTC; hoy empezó a las 00:00 UTC."
    ),
    "No usage counted yet.": "Todavía no hay uso contado.",
    # Notices after a form
    "The tenant was created. Its first tenant admin is created with the API or the command line.": (
        "La organización se creó. Su primer administrador se crea con la API o la línea de comandos."
    ),
    "The tenant was changed.": "La organización se cambió.",
    "The tenant is suspended: its users cannot sign in and its API keys are refused.": (
        "La organización está suspendida: sus usuarios no pueden iniciar sesión "
        "y sus claves de API se rechazan."
    ),
    "The tenant is active again: its users can sign in.": (
        "La organización vuelve a estar activa: sus usuarios pueden iniciar sesión."
    ),
    # Forms
    "The tenant was not created:": "La organización no se creó:",
    "The tenant was not changed:": "La organización no se cambió:",
    "Meta's Cloud API is chosen per sender: the tenant's admins add a Meta provider account later.": (
        "La Cloud API de Meta se elige por remitente: los administradores de la organización añaden después "
        "una cuenta de proveedor de Meta."
    ),
    "Twilio account (a tenant on Twilio only)": "Cuenta de Twilio (solo una organización en Twilio)",
    "Account SID": "Account SID",
    "Auth token (stored encrypted, never shown again)": (
        "Auth token (se guarda cifrado y no se vuelve a mostrar)"
    ),
    "Create the tenant": "Crear la organización",
    "Moving a tenant to Twilio needs its Twilio credentials first.": (
        "Para pasar una organización a Twilio hacen falta antes sus credenciales de Twilio."
    ),
    "Check the 24-hour session window (only a sandbox tenant may switch it off)": (
        "Comprobar la ventana de sesión de 24 horas (solo una organización sandbox puede desactivarla)"
    ),
    "Sends per minute (empty or 0: the gateway's default)": (
        "Envíos por minuto (vacío o 0: el valor por defecto de la pasarela)"
    ),
    "Sends per day (empty or 0: the gateway's default)": (
        "Envíos por día (vacío o 0: el valor por defecto de la pasarela)"
    ),
    "Save the changes": "Guardar los cambios",
    "Suspend %(name)s?": "¿Suspender %(name)s?",
    "Its users are signed out at once and cannot sign in, and its API keys are refused, until the tenant is reactivated. Nothing is deleted.": (  # noqa: E501
        "Sus usuarios salen de la sesión al instante y no pueden iniciarla, y sus claves de API se rechazan, "
        "hasta que la organización se reactive. No se elimina nada."
    ),
    "Suspend the tenant and sign its users out": (
        "Suspender la organización y cerrar las sesiones de sus usuarios"
    ),
    "Cancel": "Cancelar",
}
