"""Spanish for the campaigns: the list, one campaign with its progress and recipients, and its changes."""

SPANISH = {
    # The list
    "Campaigns": "Campañas",
    "The tenant's campaigns, newest first": "Las campañas de la organización, las más recientes primero",
    "The tenant's campaigns, newest first. Campaigns are created through the API.": (
        "Las campañas de la organización, las más recientes primero. Las campañas se crean mediante la API."
    ),
    "No campaign yet. Campaigns are created through the API.": (
        "Todavía no hay campañas. Las campañas se crean mediante la API."
    ),
    "Sender": "Remitente",
    "Pace": "Ritmo",
    "Progress": "Progreso",
    "%(rate)s msg/s": "%(rate)s mens./s",
    "%(accepted)s accepted, %(sent)s sent, %(delivered)s delivered, %(read)s read, %(failed)s failed of "
    "%(targeted)s targeted": (
        "%(accepted)s aceptados, %(sent)s enviados, %(delivered)s entregados, %(read)s leídos, "
        "%(failed)s fallidos de %(targeted)s destinatarios"
    ),
    "Running": "En curso",
    "Completed": "Completada",
    # One campaign
    "Paused because": "En pausa porque",
    "Daily cap": "Límite diario",
    "Quiet hours": "Horas de silencio",
    "(the tenant's time zone)": "(zona horaria de la organización)",
    "Starts": "Empieza",
    "Pause": "Pausar",
    "Resume": "Reanudar",
    "Cancel the campaign": "Cancelar la campaña",
    "Targeted": "Destinatarios",
    "Skipped": "Omitido",
    "Skipped: opted out": "Omitidos: se dieron de baja",
    "Skipped: duplicate": "Omitidos: duplicados",
    "Skipped: invalid": "Omitidos: no válidos",
    "Replied": "Respondieron",
    "Recipients": "Destinatarios",
    "Every state": "Todos los estados",
    "Export these recipients (CSV)": "Exportar estos destinatarios (CSV)",
    "The campaign's recipients, in audience order": (
        "Los destinatarios de la campaña, en el orden de la audiencia"
    ),
    "Detail": "Detalle",
    "No recipient in this state.": "Ningún destinatario en este estado.",
    "The campaign is paused: nothing more of it is sent until it resumes.": (
        "La campaña está en pausa: no se envía nada más de ella hasta que se reanude."
    ),
    "The campaign resumed: its messages leave again at its pace.": (
        "La campaña se reanudó: sus mensajes vuelven a salir a su ritmo."
    ),
    "The campaign was canceled: recipients not yet handed over are never sent.": (
        "La campaña se canceló: los destinatarios aún no entregados al envío nunca recibirán el mensaje."
    ),
}
